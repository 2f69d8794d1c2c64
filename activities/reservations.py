"""How a reservation takes its places, in the caller's transaction: the request's shape
checked, named places or the first free ones held, an earlier attempt's reservation given
back or cleared away; `InventoryActivities` runs them."""

import uuid

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import booking_rules as rules
from core.enums import BookingStatus, SeatState, WaitingEntryState
from core.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    SeatsUnavailable,
    SessionNotFound,
    SoldOut,
)
from core.refund_policy import tiers_of
from messages.booking import MAX_PLACES_PER_BOOKING, BookingRequest, Reservation
from models.tables import Booking, Seat, Session, WaitingListEntry
from store.waiting_list_events import publish_entry_events

# Core tables for the hot path's writes: no ORM bookkeeping for rows nobody loads.
BOOKINGS: Table = Booking.__table__  # type: ignore[assignment]
SEATS: Table = Seat.__table__  # type: ignore[assignment]


async def free_places(db: AsyncSession, booking_id: uuid.UUID) -> int:
    freed = await db.execute(
        update(Seat)
        .where(Seat.booking_id == booking_id)
        .values(state=SeatState.FREE, booking_id=None)
        .returning(Seat.id)
    )
    return len(freed.all())


# The state of a booking's places while its reservation is still the one it made.
_STATE_OF_PLACES: dict[str, SeatState] = {
    BookingStatus.PENDING_PAYMENT: SeatState.HELD,
    BookingStatus.CONFIRMED: SeatState.SOLD,
}


async def earlier_reservation(
    db: AsyncSession, existing: Booking, request: BookingRequest
) -> Reservation | None:
    """This booking's reservation when an earlier attempt made it and it still has every place.

    Held, or already sold by this booking's own confirmation: a free booking reserves and
    confirms in its workflow's first task, which runs both again when a worker dies before
    it completes. Only the same request (its fingerprint) gets the reservation back, and only
    while all its places are still its own. A row without its places is a setup that failed
    before setups cleaned up after themselves: it is deleted, so the caller holds places
    afresh (None).
    """
    IdempotencyKeyReused.unless_same(existing.request_fingerprint, request.request_fingerprint)
    state = _STATE_OF_PLACES.get(existing.status)
    same_size = existing.quantity == request.quantity
    if state is not None and same_size and await _has_all_places(db, existing, state):
        session = await db.get(Session, existing.session_id)
        assert session is not None
        return reservation_of(existing, session)
    if existing.status != BookingStatus.PENDING_PAYMENT or existing.payment_intent_id:
        raise InvalidRequest(f"booking {existing.id} is {existing.status} already")
    await free_places(db, existing.id)
    await db.delete(existing)
    await db.flush()
    return None


async def _has_all_places(db: AsyncSession, booking: Booking, state: SeatState) -> bool:
    count = await db.scalar(
        select(func.count())
        .select_from(Seat)
        .where(Seat.booking_id == booking.id, Seat.state == state)
    )
    return count == booking.quantity


def check_shape(request: BookingRequest) -> None:
    if not 1 <= request.quantity <= MAX_PLACES_PER_BOOKING:
        raise InvalidRequest(f"quantity must be between 1 and {MAX_PLACES_PER_BOOKING}")
    labels = request.seat_labels
    if labels and len(labels) != request.quantity:
        raise InvalidRequest("quantity must equal the number of seats asked for")
    if rules.repeats(labels):
        raise InvalidRequest("a seat is asked for twice")
    session_uuid(request)


def session_uuid(request: BookingRequest) -> uuid.UUID:
    try:
        return uuid.UUID(request.session_id)
    except ValueError:
        raise SessionNotFound(f"session {request.session_id} does not exist") from None


async def hold_named(
    db: AsyncSession, session: Session, booking_id: uuid.UUID, labels: list[str]
) -> list[str]:
    known = set(
        await db.scalars(
            select(Seat.label).where(Seat.session_id == session.id, Seat.label.in_(labels))
        )
    )
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise InvalidRequest(f"seats not in this session: {', '.join(unknown)}", seats=unknown)
    held = await db.scalars(
        update(SEATS)
        .where(SEATS.c.session_id == session.id, SEATS.c.label.in_(labels))
        .where(SEATS.c.state == SeatState.FREE)
        .values(state=SeatState.HELD, booking_id=booking_id)
        .returning(SEATS.c.label)
    )
    taken = sorted(set(labels) - set(held))
    if taken:
        raise SeatsUnavailable.taken(taken)
    return labels


async def take_offer(
    db: AsyncSession, session: Session, booking_id: uuid.UUID, request: BookingRequest
) -> list[str]:
    """The places held for the waiting-list entry's open offer, now held by this booking, and
    the entry ACCEPTED (its `waitlist.accepted` event written), in one step of the caller's
    transaction; SeatsUnavailable when the offer is no longer open (lapsed, withdrawn) or
    names other places."""
    assert request.waiting_entry_id is not None
    entry_id = uuid.UUID(request.waiting_entry_id)
    accepted = await db.execute(
        update(WaitingListEntry)
        .where(
            WaitingListEntry.id == entry_id,
            WaitingListEntry.session_id == session.id,
            WaitingListEntry.state == WaitingEntryState.OFFERED,
            WaitingListEntry.offer_expires_at > func.now(),
        )
        .values(
            state=WaitingEntryState.ACCEPTED,
            booking_id=booking_id,
            offer_expires_at=None,
            offer_token_hash=None,
            closed_at=func.now(),
            updated_at=func.now(),
        )
        .returning(WaitingListEntry.id)
    )
    if accepted.first() is None:
        raise SeatsUnavailable(
            f"waiting-list entry {entry_id} holds no open offer of these places",
            seats=request.seat_labels,
        )
    held = await db.scalars(
        update(SEATS)
        .where(SEATS.c.waiting_entry_id == entry_id, SEATS.c.state == SeatState.OFFERED)
        .values(state=SeatState.HELD, booking_id=booking_id, waiting_entry_id=None)
        .returning(SEATS.c.label)
    )
    if sorted(held) != sorted(request.seat_labels):
        raise SeatsUnavailable.taken(request.seat_labels)  # rolled back with the transaction
    await publish_entry_events(db, [entry_id])
    return list(request.seat_labels)


async def hold_any(db: AsyncSession, session: Session, booking_id: uuid.UUID, n: int) -> list[str]:
    free = (
        select(SEATS.c.id)
        .where(SEATS.c.session_id == session.id, SEATS.c.state == SeatState.FREE)
        .order_by(SEATS.c.position)
        .limit(n)
        .with_for_update()
        .scalar_subquery()
    )
    held = await db.execute(
        update(SEATS)
        .where(SEATS.c.id.in_(free))
        .values(state=SeatState.HELD, booking_id=booking_id)
        .returning(SEATS.c.label, SEATS.c.position)
    )
    labels = [label for label, _ in sorted(held.all(), key=lambda row: row[1])]
    if len(labels) < n:
        raise SoldOut.with_left(n, len(labels))
    return labels


def row_of(booking: Booking) -> dict[str, object]:
    """The column values a new (transient) booking was built with."""
    return {
        column.key: getattr(booking, column.key)
        for column in BOOKINGS.columns
        if getattr(booking, column.key) is not None
    }


def reservation_of(booking: Booking, session: Session) -> Reservation:
    return Reservation(
        booking_id=str(booking.id),
        session_id=str(session.id),
        seat_labels=list(booking.seat_labels),
        unit_amount=session.price_amount,
        amount_subtotal=booking.amount_subtotal,
        discount=booking.discount,
        amount_total=booking.amount_total,
        currency=booking.currency,
        hold_expires_at=booking.hold_expires_at,
        session_starts_at=session.starts_at,
        session_ends_at=session.ends_at,
        request_fingerprint=booking.request_fingerprint,
        refund_policy=tiers_of(session.refund_policy),
    )
