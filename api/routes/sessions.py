"""Sessions: list and read them with availability; admins create them."""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api.booking_workflows import cancel_booking_workflow
from api.deps import AdminCaller, ClientCaller, DbDep, TemporalDep
from api.schemas import (
    AvailabilityOut,
    GroupDiscountIn,
    SessionCancellation,
    SessionCreate,
    SessionOut,
    SessionPage,
)
from core.errors import BookingNotCancellable, SessionNotBookable
from models.booking import CancelRequest
from models.catalog import (
    Availability,
    SeatRow,
    SessionFilter,
    SessionSpec,
    create_session,
    get_session,
    list_sessions,
)
from models.enums import OPEN_STATUSES
from models.tables import Booking, Session

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.get("", response_model=SessionPage)
async def list_all(
    caller: ClientCaller,
    db: DbDep,
    kind: Literal["course", "seated", "appointment"] | None = None,
    location: Annotated[str | None, Query(max_length=200)] = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SessionPage:
    where = SessionFilter(kind, location, starts_after, starts_before, q)
    page, total = await list_sessions(db, where, limit, offset)
    return SessionPage(
        items=[session_out(s, a) for s, a in page], total=total, limit=limit, offset=offset
    )


@router.get("/{session_id}", response_model=SessionOut)
async def read_one(session_id: str, caller: ClientCaller, db: DbDep) -> SessionOut:
    return session_out(*await get_session(db, session_id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create(body: SessionCreate, caller: AdminCaller, db: DbDep) -> SessionOut:
    discount = body.group_discount
    spec = SessionSpec(
        kind=body.kind,
        title=body.title,
        location=body.location,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        price_amount=body.price_amount,
        currency=body.currency,
        capacity=body.capacity,
        seat_map=[SeatRow(row.label, row.seats) for row in body.seat_map],
        hold_seconds=body.hold_seconds,
        discount_min_quantity=discount.min_quantity if discount else 0,
        discount_basis_points=discount.percent * 100 if discount else 0,
    )
    session = await create_session(db, spec)
    await db.commit()
    return session_out(session, Availability(session.capacity, 0, 0))


@router.post("/{session_id}/cancel", response_model=SessionCancellation)
async def cancel(
    session_id: str, caller: AdminCaller, db: DbDep, temporal: TemporalDep
) -> SessionCancellation:
    """Stop selling and cancel every open booking: released before payment, refunded after.

    Each customer gets the session-cancelled email. Running it again finishes what is left.
    """
    session, _ = await get_session(db, session_id)
    if session.starts_at <= datetime.now(UTC):
        raise SessionNotBookable("a session that has started cannot be cancelled")
    session.status = "cancelled"
    await db.commit()
    open_bookings = await db.scalars(
        select(Booking).where(
            Booking.session_id == session.id,
            Booking.status.in_(OPEN_STATUSES),
        )
    )
    request = CancelRequest("the session was cancelled", session_cancelled=True)
    limit = asyncio.Semaphore(10)

    async def cancel_one(booking: Booking) -> str:
        async with limit:
            try:
                view = await cancel_booking_workflow(
                    temporal, str(booking.id), request, booking.status
                )
            except BookingNotCancellable:
                return "not-cancellable"
            return str(view.status)

    outcomes = await asyncio.gather(*[cancel_one(b) for b in open_bookings])
    return SessionCancellation(
        session=session_out(*await get_session(db, session_id)),
        bookings=dict(Counter(outcomes)),
    )


def session_out(session: Session, availability: Availability) -> SessionOut:
    discount = None
    if session.discount_basis_points:
        discount = GroupDiscountIn(
            min_quantity=session.discount_min_quantity,
            percent=session.discount_basis_points // 100,
        )
    return SessionOut(
        id=str(session.id),
        kind=session.kind,
        title=session.title,
        location=session.location,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        price_amount=session.price_amount,
        currency=session.currency,
        hold_seconds=session.hold_seconds,
        group_discount=discount,
        status=session.status,
        availability=AvailabilityOut(
            capacity=availability.capacity,
            held=availability.held,
            sold=availability.sold,
            available=availability.available,
        ),
    )
