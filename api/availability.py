"""The API's cheap 'no' before any workflow starts: an unknown session, sold out, too few
places, or named seats taken, read from PostgreSQL in one statement.

Only the workflow's reservation decides who gets places. This read may only refuse when the
database shows no room, so a stale read can at worst be a 409 that a retry fixes (places freed
since), never an oversell. A booking that already exists (the same Idempotency-Key again) is
never refused here: its workflow or mirror gives the original answer.
"""

import uuid

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import SeatState
from core.errors import SeatsUnavailable, SessionNotFound, SoldOut, parse_id
from messages.booking import BookingRequest
from models.tables import Booking, Seat, Session


async def bookable_session(
    db: AsyncSession, request: BookingRequest, organisation_id: uuid.UUID
) -> Session:
    """The organisation's session the request names (404 otherwise, another organisation's
    too), unless the places are not there: SoldOut or SeatsUnavailable (409, as the
    reservation answers). The read's transaction ends here (with the API key's check): no
    connection stays held while Temporal sets the booking up."""
    session_id = parse_id(request.session_id, SessionNotFound, "session")
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
        Session,
        exists().where(Booking.id == uuid.UUID(request.booking_id)),
        select(func.count()).select_from(free).scalar_subquery(),
        select(func.count()).select_from(named).scalar_subquery(),
        select(func.array_agg(named.c.label).filter(named.c.state != SeatState.FREE))
        .select_from(named)
        .scalar_subquery(),
    ).where(Session.id == session_id, Session.organisation_id == organisation_id)
    found = (await db.execute(statement)).first()
    await db.commit()
    if found is None:
        raise SessionNotFound(f"session {request.session_id} does not exist")
    session, known, free_places, named_found, taken = found
    if known:
        return session
    if labels:
        if taken and named_found == len(labels):  # unknown seats: the reservation says which
            raise SeatsUnavailable.taken(sorted(taken))
    elif free_places < request.quantity:
        raise SoldOut.with_left(request.quantity, free_places)
    return session
