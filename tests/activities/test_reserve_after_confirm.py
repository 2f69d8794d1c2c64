"""`reserve` run again after its own booking's `confirm` (a free booking's first workflow task
replayed after a worker died): the same reservation for the same request, never places for
another."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.errors import IdempotencyKeyReused, InvalidRequest
from messages.booking import BookingRequest
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import request, seat_states


@pytest.fixture
def inventory(db: async_sessionmaker[AsyncSession]) -> InventoryActivities:
    return InventoryActivities(db)


async def test_reserving_a_confirmed_booking_again_answers_its_reservation(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12, price_amount=0)
    ask = request(session_id, 5)
    first = await inventory.reserve(ask)
    await inventory.confirm(ask.booking_id)

    assert await inventory.reserve(ask) == first
    assert await seat_states(db, session_id) == {"sold": 5, "free": 7}


async def test_reserving_a_confirmed_booking_with_another_request_is_refused(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12, price_amount=0)
    ask = request(session_id, 5)
    await inventory.reserve(ask)
    await inventory.confirm(ask.booking_id)

    other = BookingRequest(**{**vars(ask), "quantity": 2, "request_fingerprint": "other"})
    with pytest.raises(IdempotencyKeyReused):
        await inventory.reserve(other)
    assert await seat_states(db, session_id) == {"sold": 5, "free": 7}


async def test_a_confirmed_booking_without_all_its_places_gets_none_back(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12, price_amount=0)
    ask = request(session_id, 5)
    await inventory.reserve(ask)
    await inventory.confirm(ask.booking_id)
    await inventory.release(ask.booking_id)
    taker = await inventory.reserve(request(session_id, 12))

    with pytest.raises(InvalidRequest, match="CONFIRMED already"):
        await inventory.reserve(ask)
    assert await seat_states(db, session_id) == {"held": 12}
    assert len(taker.seat_labels) == 12
