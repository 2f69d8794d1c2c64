"""The API's cheap 'no' before any workflow starts: sold out, too few places, or named seats
taken, read from PostgreSQL in one statement.

Only the workflow's reservation decides who gets places. This read may only refuse when the
database shows no room, so a stale read can at worst be a 409 that a retry fixes (places freed
since), never an oversell. A booking that already exists (the same Idempotency-Key again) is
never refused here: its workflow or mirror gives the original answer.
"""

import uuid

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import SeatsUnavailable, SoldOut
from models.booking import BookingRequest
from models.enums import SeatState
from models.tables import Booking, Seat


async def refuse_if_unavailable(db: AsyncSession, request: BookingRequest) -> None:
    """SoldOut or SeatsUnavailable (409, as the reservation answers) when the places are
    not there; returns when they may be, or when the booking exists already."""
    session_id = uuid.UUID(request.session_id)
    labels = request.seat_labels
    # At most `quantity` free rows are read (the session-and-state index), however large.
    free = (
        select(Seat.id)
        .where(Seat.session_id == session_id, Seat.state == SeatState.FREE)
        .limit(request.quantity)
        .subquery()
    )
    named = (
        select(Seat.label, Seat.state)
        .where(Seat.session_id == session_id, Seat.label.in_(labels))
        .subquery()
    )
    statement = select(
        exists().where(Booking.id == uuid.UUID(request.booking_id)),
        select(func.count()).select_from(free).scalar_subquery(),
        func.count(named.c.label),
        func.array_agg(named.c.label).filter(named.c.state != SeatState.FREE),
    ).select_from(named)
    known, free_places, found, taken = (await db.execute(statement)).one()
    await db.commit()  # no connection stays held while the workflow runs
    if known:
        return
    if labels:
        if taken and found == len(labels):  # unknown seats: the reservation says which (422)
            raise SeatsUnavailable.taken(sorted(taken))
    elif free_places < request.quantity:
        raise SoldOut.with_left(request.quantity, free_places)
