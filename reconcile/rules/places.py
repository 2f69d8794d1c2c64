"""I1 (no overbooking) and I3 (holds end on time): every session's places, and the places
each booking owns."""

from datetime import timedelta

from core.enums import BookingStatus, SeatState
from reconcile.findings import CLAIMING, OrphanReason, find_orphan_holds
from reconcile.rules.vocabulary import Rule, Violation, labels, violation
from reconcile.snapshot import BookingRow, Snapshot
from reconcile.workflow_states import WorkflowState


def places(
    snapshot: Snapshot, workflows: dict[str, WorkflowState], settle: timedelta, grace: timedelta
) -> list[Violation]:
    found = []
    for session in snapshot.sessions.values():
        if session.seat_rows != session.capacity:
            found.append(
                violation(
                    Rule.SEAT_ROWS,
                    session.id,
                    f"session has {session.seat_rows} place rows for a capacity of "
                    f"{session.capacity}",
                )
            )
        if session.held + session.sold + session.offered > session.capacity:
            found.append(
                violation(
                    Rule.OVER_CAPACITY,
                    session.id,
                    f"{session.held} held + {session.sold} sold + {session.offered} offered "
                    f"> capacity {session.capacity}",
                )
            )
    for hold in find_orphan_holds(snapshot, workflows, grace=grace, settle=settle):
        places = ", ".join([*(f"{s} held" for s in hold.held), *(f"{s} sold" for s in hold.sold)])
        if hold.reason == OrphanReason.HOLD_OVERDUE:
            detail = f"still holds {places}; its hold ended at {hold.hold_expires_at:%F %T%z}"
        elif hold.reason == OrphanReason.BOOKING_CLOSED:
            detail = f"is {hold.status} but still has {places}"
        else:
            detail = (
                f"is {hold.status}, its workflow is {_workflow_label(hold.workflow_status)}, "
                f"and it still has {places}"
            )
        found.append(violation(Rule(f"orphan-{hold.reason}"), hold.booking_id, detail))
    for booking in snapshot.bookings.values():
        if booking.at_rest(snapshot.now, settle):
            found += _owned_places(snapshot, booking)
    return found


def _owned_places(snapshot: Snapshot, booking: BookingRow) -> list[Violation]:
    """A CONFIRMED or COMPLETED booking owns exactly its places, sold; a pending one owns no
    sold place; every place is of the booking's session."""
    seats = snapshot.places_of(booking.id)
    found = [
        violation(Rule.WRONG_SESSION, booking.id, f"owns place {s.label} of session {s.session_id}")
        for s in seats
        if s.session_id != booking.session_id
    ]
    sold = sorted(s.label for s in seats if s.state == SeatState.SOLD)
    held = sorted(s.label for s in seats if s.state == SeatState.HELD)
    if booking.status in CLAIMING:
        if held or sold != sorted(booking.seat_labels) or len(sold) != booking.quantity:
            found.append(
                violation(
                    Rule.PLACES_MISMATCH,
                    booking.id,
                    f"is {booking.status} for {booking.quantity} place(s) "
                    f"{labels(booking.seat_labels)} but owns sold {labels(sold)}"
                    + (f" and held {labels(held)}" if held else ""),
                )
            )
    elif sold and booking.status == BookingStatus.PENDING_PAYMENT:
        # (A closed booking's places are orphans, reported above.)
        found.append(
            violation(Rule.SOLD_UNPAID, booking.id, f"is {booking.status} but owns sold {sold}")
        )
    return found


def _workflow_label(status: object) -> str:
    name = getattr(status, "name", None)
    return name if isinstance(name, str) else "NOT_FOUND"
