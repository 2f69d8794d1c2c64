"""`reserve` run again after its own booking's `confirm` (a free booking's first workflow task
replayed after a worker died): the same reservation for the same request, never places for
another."""

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.errors import IdempotencyKeyReused, InvalidRequest
from messages.booking import BookingRequest, Reservation
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import request, seat_states

Db = async_sessionmaker[AsyncSession]


@dataclass
class Confirmed:
    """A free booking of 5 of a session's 12 places, reserved then confirmed."""

    session_id: str
    ask: BookingRequest
    reservation: Reservation


@pytest.fixture
async def confirmed(inventory: InventoryActivities, new_session: SessionFactory) -> Confirmed:
    session_id = await new_session(capacity=12, price_amount=0)
    ask = request(session_id, 5)
    reservation = await inventory.reserve(ask)
    await inventory.confirm(ask.booking_id)
    return Confirmed(session_id, ask, reservation)


async def test_reserving_a_confirmed_booking_again_answers_its_reservation(
    inventory: InventoryActivities, confirmed: Confirmed, db: Db
) -> None:
    assert await inventory.reserve(confirmed.ask) == confirmed.reservation
    assert await seat_states(db, confirmed.session_id) == {"sold": 5, "free": 7}


async def test_reserving_a_confirmed_booking_with_another_request_is_refused(
    inventory: InventoryActivities, confirmed: Confirmed, db: Db
) -> None:
    other = BookingRequest(**{**vars(confirmed.ask), "quantity": 2, "request_fingerprint": "other"})
    with pytest.raises(IdempotencyKeyReused):
        await inventory.reserve(other)
    assert await seat_states(db, confirmed.session_id) == {"sold": 5, "free": 7}


async def test_a_confirmed_booking_without_all_its_places_gets_none_back(
    inventory: InventoryActivities, confirmed: Confirmed, db: Db
) -> None:
    await inventory.release(confirmed.ask.booking_id)
    taker = await inventory.reserve(request(confirmed.session_id, 12))

    with pytest.raises(InvalidRequest, match="CONFIRMED already"):
        await inventory.reserve(confirmed.ask)
    assert await seat_states(db, confirmed.session_id) == {"held": 12}
    assert len(taker.seat_labels) == 12
