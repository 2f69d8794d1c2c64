"""I1 for waiting-list offers: every place held for an offer belongs to an entry that holds an
open offer of exactly that place, and no offer holds places of a session whose sales ended
(cancelled, started, or its list closed). (held + sold + offered within the capacity:
`places`.) I3 for them: no offer holds its places long past its deadline (`offer-overdue`:
the list's workflow, whose timer lets it lapse at the deadline, stalled or is gone). I8 for
them: no entry is left accepted with a booking that does not exist (`accepted-without-booking`:
nothing moves it on; `booking-ops sessions waiting-list-repair` puts it back on its list)."""

from datetime import timedelta

from core.enums import SessionStatus, WaitingEntryState, WaitingListStatus
from reconcile.rules.vocabulary import Rule, Violation, violation
from reconcile.snapshot import OfferedSeat, SessionRow, Snapshot
from reconcile.waiting_lists import StrandedAcceptance


def offers(snapshot: Snapshot, settle: timedelta, grace: timedelta) -> list[Violation]:
    """Offers changed in the last `settle` are left alone: the waiting list's workflow may be
    withdrawing them; an offer is overdue once `grace` past its deadline."""
    found = []
    ended_reported: set[str] = set()
    overdue_reported: set[str] = set()
    for seat in snapshot.offered:
        if seat.entry_updated_at > snapshot.now - settle:
            continue
        if seat.entry_state != WaitingEntryState.OFFERED or seat.label not in seat.entry_labels:
            found.append(
                violation(
                    Rule.OFFER_ORPHAN,
                    seat.entry_id,
                    f"place {seat.label} of session {seat.session_id} is held for this entry, "
                    f"which is {seat.entry_state} with offered places {seat.entry_labels}",
                )
            )
        if seat.entry_id not in overdue_reported and _overdue(seat, snapshot, grace):
            overdue_reported.add(seat.entry_id)
            found.append(
                violation(
                    Rule.OFFER_OVERDUE,
                    seat.entry_id,
                    f"its offer of {seat.entry_labels} (session {seat.session_id}) lapsed at "
                    f"{seat.offer_expires_at:%Y-%m-%d %H:%M:%S} and still holds them: the "
                    "session's waiting-list workflow stalled",
                )
            )
        session = snapshot.sessions.get(seat.session_id)
        if session is None or seat.entry_id in ended_reported:
            continue
        if _sales_ended(session, snapshot, settle):
            ended_reported.add(seat.entry_id)
            found.append(
                violation(
                    Rule.OFFER_SESSION_ENDED,
                    seat.entry_id,
                    f"holds places of session {seat.session_id}, which is {_why(session)}",
                )
            )
    return found


def accepted_without_booking(stranded: list[StrandedAcceptance]) -> list[Violation]:
    """Entries accepted whose booking does not exist (read by
    `reconcile.waiting_lists.stranded_acceptances`)."""
    return [
        violation(
            Rule.ACCEPTED_WITHOUT_BOOKING,
            str(entry.entry_id),
            f"accepted in session {entry.session_id}, but its booking "
            + (f"{entry.booking_id} does not exist" if entry.booking_id else "was never named")
            + ": its setup failed and nothing puts it back on the list",
        )
        for entry in stranded
    ]


def _overdue(seat: OfferedSeat, snapshot: Snapshot, grace: timedelta) -> bool:
    return (
        seat.entry_state == WaitingEntryState.OFFERED
        and seat.offer_expires_at is not None
        and seat.offer_expires_at + grace < snapshot.now
    )


def _sales_ended(session: SessionRow, snapshot: Snapshot, settle: timedelta) -> bool:
    settled = snapshot.now - settle
    if session.status == SessionStatus.CANCELLED:
        return session.cancelled_at is None or session.cancelled_at <= settled
    if session.starts_at is not None and session.starts_at <= settled:
        return True
    return session.waiting_list_status == WaitingListStatus.CLOSED


def _why(session: SessionRow) -> str:
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if session.waiting_list_status == WaitingListStatus.CLOSED:
        return "closed to its waiting list"
    return "started"
