"""The inventory's answers when things went wrong earlier: a setup that failed, places that
were lost, a cancelled session, data PostgreSQL will always refuse."""

import uuid
from typing import NamedTuple

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.enums import BookingStatus, SeatState
from core.errors import InvalidRequest, SeatsUnavailable, SessionNotBookable, SoldOut
from messages.booking import BookingRequest, Transition
from models.tables import Booking, Seat
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import request
from tests.helpers.workflow_bookings import session_row_cancelled

Db = async_sessionmaker[AsyncSession]


async def places_owned(db: Db, booking_id: str) -> list[str]:
    async with db() as s:
        owned = await s.scalars(select(Seat.state).where(Seat.booking_id == uuid.UUID(booking_id)))
        return list(owned)


class Held(NamedTuple):
    """A booking holding 2 of its session's 3 places."""

    session_id: str
    booking: BookingRequest


@pytest.fixture
async def held(inventory: InventoryActivities, new_session: SessionFactory) -> Held:
    session_id = await new_session(capacity=3)
    booking = request(session_id, 2)
    await inventory.reserve(booking)
    return Held(session_id, booking)


async def test_a_discarded_setup_leaves_nothing_and_the_retry_holds_afresh(
    inventory: InventoryActivities, db: Db, held: Held
) -> None:
    first = held.booking
    await inventory.discard(first.booking_id)
    async with db() as s:
        assert await s.get(Booking, uuid.UUID(first.booking_id)) is None
    assert await places_owned(db, first.booking_id) == []

    again = await inventory.reserve(first)  # the caller retries with the same key

    assert len(again.seat_labels) == 2
    assert await places_owned(db, first.booking_id) == [SeatState.HELD] * 2


async def test_a_row_left_without_its_places_is_not_trusted(
    inventory: InventoryActivities, db: Db, held: Held
) -> None:
    """Before setups cleaned up, a failed one released its places but kept its row."""
    session_id, first = held
    await inventory.release(first.booking_id)  # what a failed setup used to do
    other = request(session_id, quantity=2)
    await inventory.reserve(other)  # someone else takes two of the three places

    with pytest.raises(SoldOut):
        await inventory.reserve(first)  # the retry must not get phantom places

    assert await places_owned(db, first.booking_id) == []
    async with db() as s:
        taken = await s.scalar(
            select(func.count())
            .select_from(Seat)
            .where(Seat.session_id == uuid.UUID(session_id), Seat.state != SeatState.FREE)
        )
    assert taken == 2


async def test_confirming_needs_every_place_still_held(
    inventory: InventoryActivities, db: Db, held: Held
) -> None:
    booking = held.booking
    await inventory.release(booking.booking_id)

    with pytest.raises(SeatsUnavailable) as refused:
        await inventory.confirm(booking.booking_id)

    assert refused.value.non_retryable
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking.booking_id))
    assert row is not None and row.reference is None
    assert row.status == BookingStatus.PENDING_PAYMENT


async def test_confirming_on_a_cancelled_session_is_refused(
    inventory: InventoryActivities, db: Db, held: Held
) -> None:
    session_id, booking = held
    await session_row_cancelled(db, session_id)

    with pytest.raises(SessionNotBookable):
        await inventory.confirm(booking.booking_id)
    assert await places_owned(db, booking.booking_id) == [SeatState.HELD] * 2


async def test_data_postgresql_refuses_fails_at_once_and_for_good(
    inventory: InventoryActivities, db: Db, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=3)
    with pytest.raises(InvalidRequest) as refused:
        await inventory.reserve(request(session_id, 2, name="Ada\x00Lovelace"))
    assert refused.value.non_retryable and "22021" in refused.value.message

    booking = request(session_id, 2)
    await inventory.reserve(booking)
    with pytest.raises(InvalidRequest):
        await inventory.record(
            Transition(booking.booking_id, BookingStatus.CANCELLED, status_reason="bad\x00reason")
        )
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking.booking_id))
    assert row is not None and row.status == BookingStatus.PENDING_PAYMENT
