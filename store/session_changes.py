"""Changing a session (`PATCH /v1/sessions/{id}`): its title, place, times and capacity,
checked and written in one transaction under the session's row lock, with its `session.updated`
event; a change of time or place is also kept as the session's next `SessionChange`, which a
workflow then announces to every open booking (`workflows.session_change`).

The checks all come before any write: a refused change changes nothing."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import SeatState, SessionKind, SessionStatus
from core.errors import CapacityBelowTaken, InvalidRequest, SessionNotBookable
from models.tables import Seat, Session, SessionChange
from store.catalog import MAX_PLACES_PER_SESSION, SessionLock, session_of
from store.sequences import database_now
from store.waiting_list import cap_offers_at_start
from store.webhook_events import publish_session_updated

# The fields a change of which is announced to the session's bookings (an email with its
# calendar file, their timers moved); a new title is announced with them, not alone.
ANNOUNCED = ("location", "starts_at", "ends_at")


@dataclass
class AcceptOrRefund:
    """After a move of the start by more than `min_shift_seconds`, each booking may cancel
    with a full refund, whatever the policy, for `window_seconds`."""

    window_seconds: int
    min_shift_seconds: int = 0


@dataclass
class SessionPatch:
    """What to change; None leaves it as it is."""

    title: str | None = None
    location: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = None
    accept_or_refund: AcceptOrRefund | None = None
    certifying: bool | None = None


@dataclass
class PatchOutcome:
    session: Session
    # The change to announce: this one's (its time or place moved), or the last one again for a
    # PATCH asking for the time or place the session has (a retry); else None.
    change: SessionChange | None
    # The waiting list must look again: the capacity was raised, or the start moved earlier
    # while someone is on the list (open offers capped at it).
    wake_list: bool


async def update_session(
    db: AsyncSession, session_id: uuid.UUID, organisation_id: uuid.UUID, patch: SessionPatch
) -> PatchOutcome:
    """Check and write `patch`; the caller commits. Asking for what already is changes nothing
    (a repeated PATCH is no second change)."""
    session = await session_of(db, str(session_id), organisation_id, lock=SessionLock.UPDATE)
    if session.status == SessionStatus.CANCELLED:
        raise SessionNotBookable("a cancelled session cannot be changed")
    now = await database_now(db)
    changes = _changes(session, patch, now)
    capacity = patch.capacity if patch.capacity != session.capacity else None
    if capacity is not None:
        await _check_capacity(db, session, capacity)
    certifying = patch.certifying if patch.certifying != session.certifying else None
    if certifying is not None and session.ends_at <= now:
        # The booking workflows decided the certificates owed at the end.
        raise SessionNotBookable("a session that has ended cannot change whether it certifies")
    if not changes and capacity is None and certifying is None:
        return PatchOutcome(session, await _asked_again(db, session, patch), False)
    if certifying is not None:
        session.certifying = certifying
    wake_list = capacity is not None and capacity > session.capacity
    if capacity is not None:
        await _resize(db, session, capacity)
    for name, (_, value) in changes.items():
        setattr(session, name, value)
    if _earlier(changes.get("starts_at")):
        wake_list = await cap_offers_at_start(db, session) or wake_list
    change = None
    if any(name in changes for name in ANNOUNCED):
        session.calendar_sequence += 1
        change = SessionChange(
            session_id=session.id,
            sequence=session.calendar_sequence,
            changes={name: [_text(old), _text(new)] for name, (old, new) in changes.items()},
            title=session.title,
            location=session.location,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            refund_in_full_until=_window_end(changes.get("starts_at"), patch, now),
        )
        db.add(change)
    await db.flush()
    await publish_session_updated(
        db, session, _event_key(change, now), change.changes if change else {}
    )
    return PatchOutcome(session, change, wake_list)


async def _asked_again(
    db: AsyncSession, session: Session, patch: SessionPatch
) -> SessionChange | None:
    """The session's last change, when `patch` asks for a time or place it already has: a
    PATCH retried after its announcement could not be started starts it (each booking is
    told once all the same)."""
    if session.calendar_sequence == 0 or all(getattr(patch, n) is None for n in ANNOUNCED):
        return None
    return await db.scalar(
        select(SessionChange).where(
            SessionChange.session_id == session.id,
            SessionChange.sequence == session.calendar_sequence,
        )
    )


def _changes(
    session: Session, patch: SessionPatch, now: datetime
) -> dict[str, tuple[object, object]]:
    """The fields `patch` changes: name -> (before, after); refused if the times are not
    valid (as at creation) or the session has started."""
    wanted = {name: getattr(patch, name) for name in ("title", *ANNOUNCED)}
    if patch.starts_at is not None and patch.ends_at is None:
        # A new start alone keeps the session's length.
        wanted["ends_at"] = patch.starts_at + (session.ends_at - session.starts_at)
    changes = {
        name: (getattr(session, name), value)
        for name, value in wanted.items()
        if value is not None and value != getattr(session, name)
    }
    if "starts_at" in changes or "ends_at" in changes:
        starts_at = wanted["starts_at"] or session.starts_at
        ends_at = wanted["ends_at"] or session.ends_at
        if session.starts_at <= now:
            raise SessionNotBookable("a session that has started cannot change its time")
        if starts_at <= now:
            _invalid("starts_at", "must be in the future")
        if ends_at <= starts_at:
            _invalid("ends_at", "must be after starts_at")
    return changes


async def _check_capacity(db: AsyncSession, session: Session, capacity: int) -> None:
    if session.kind == SessionKind.SEATED:
        _invalid("capacity", "a seated session's capacity is its seat map")
    if not 1 <= capacity <= MAX_PLACES_PER_SESSION:
        _invalid("capacity", f"must be between 1 and {MAX_PLACES_PER_SESSION}")
    rows = await db.execute(
        select(Seat.state, func.count())
        .where(Seat.session_id == session.id, Seat.state != SeatState.FREE)
        .group_by(Seat.state)
    )
    taken = {state: count for state, count in rows.all()}
    sold, held = taken.get(SeatState.SOLD, 0), taken.get(SeatState.HELD, 0)
    offered = taken.get(SeatState.OFFERED, 0)
    if capacity < sold + held + offered:
        raise CapacityBelowTaken(
            f"capacity {capacity} is below the {sold + held + offered} places taken",
            capacity=capacity,
            sold=sold,
            held=held,
            offered=offered,
        )


async def _resize(db: AsyncSession, session: Session, capacity: int) -> None:
    """Add free places after the last, or remove free ones from the end (the check before
    made sure enough are free)."""
    if capacity > session.capacity:
        last = await db.scalar(select(func.max(Seat.position)).where(Seat.session_id == session.id))
        first = (last if last is not None else -1) + 1
        await db.execute(
            insert(Seat),
            [
                {
                    "session_id": session.id,
                    "label": f"GA-{position + 1:03d}",
                    "position": position,
                    "state": SeatState.FREE,
                }
                for position in range(first, first + capacity - session.capacity)
            ],
        )
    else:
        spare = (
            select(Seat.id)
            .where(Seat.session_id == session.id, Seat.state == SeatState.FREE)
            .order_by(Seat.position.desc())
            .limit(session.capacity - capacity)
        )
        await db.execute(delete(Seat).where(Seat.id.in_(spare)))
    session.capacity = capacity


def _earlier(start_moved: tuple[object, object] | None) -> bool:
    """Whether the start moved (before, after) earlier."""
    if start_moved is None:
        return False
    before, after = start_moved
    assert isinstance(before, datetime) and isinstance(after, datetime)
    return after < before


def _window_end(
    start_moved: tuple[object, object] | None, patch: SessionPatch, now: datetime
) -> datetime | None:
    """Until when the change lets each booking cancel with a full refund: only when asked for
    and the start moved (before, after) by more than its threshold."""
    window = patch.accept_or_refund
    if window is None or start_moved is None:
        return None
    before, after = start_moved
    assert isinstance(before, datetime) and isinstance(after, datetime)
    if abs(after - before) <= timedelta(seconds=window.min_shift_seconds):
        return None
    return now + timedelta(seconds=window.window_seconds)


def _event_key(change: SessionChange | None, now: datetime) -> str:
    """Each change is one `session.updated` event: the announced one by its sequence."""
    if change is not None:
        return f"change-{change.sequence}"
    return f"update-{now.isoformat()}"


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _invalid(field_name: str, message: str) -> None:
    raise InvalidRequest(
        f"{field_name} {message}", errors=[{"field": f"body.{field_name}", "message": message}]
    )
