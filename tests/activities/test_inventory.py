"""Seat inventory on the real PostgreSQL: no overselling under concurrency, idempotent steps."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.enums import BookingStatus, SeatState
from core.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    SeatsUnavailable,
    SessionNotFound,
    SoldOut,
)
from messages.booking import BookingRequest, ReleaseSome, Repriced, Transition
from models.tables import Booking
from store.catalog import SeatRow
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import request, seat_states


async def test_200_concurrent_reservations_hold_exactly_the_capacity(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12)
    attempts = [inventory.reserve(request(session_id)) for _ in range(200)]
    results = await asyncio.gather(*attempts, return_exceptions=True)

    held = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(held) == 12
    assert all(isinstance(r, SoldOut) for r in refused), {type(r) for r in refused}
    labels = [label for r in held for label in r.seat_labels]
    assert len(labels) == len(set(labels)) == 12
    assert await seat_states(db, session_id) == {"held": 12}


async def test_group_reservations_never_split_or_overlap(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12)
    results = await asyncio.gather(
        *[inventory.reserve(request(session_id, quantity=5)) for _ in range(20)],
        return_exceptions=True,
    )
    held = [r for r in results if not isinstance(r, BaseException)]
    assert len(held) == 2  # 5 + 5; the 2 places left cannot make a group of 5
    assert all(len(r.seat_labels) == 5 for r in held)
    assert await seat_states(db, session_id) == {"held": 10, "free": 2}


async def test_named_seats_with_overlapping_requests(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(seat_rows=[SeatRow("A", 6)])
    wanted = [["A1", "A2"], ["A2", "A3"], ["A3", "A4"], ["A4", "A5"], ["A5", "A6"], ["A6", "A1"]]
    results = await asyncio.gather(
        *[inventory.reserve(request(session_id, 2, seats)) for seats in wanted * 10],
        return_exceptions=True,
    )
    held = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    labels = [label for r in held for label in r.seat_labels]
    assert len(labels) == len(set(labels))
    assert all(isinstance(r, SeatsUnavailable) for r in refused)
    assert 2 <= len(held) <= 3
    assert (await seat_states(db, session_id)).get("held") == len(labels)


async def test_release_then_reserve_again(
    inventory: InventoryActivities, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=2)
    first = await inventory.reserve(request(session_id, 2))
    with pytest.raises(SoldOut):
        await inventory.reserve(request(session_id, 1))

    assert (await inventory.release(first.booking_id)).released == 2
    assert (await inventory.release(first.booking_id)).released == 0
    again = await inventory.reserve(request(session_id, 2))
    assert sorted(again.seat_labels) == sorted(first.seat_labels)


async def test_reserving_again_returns_the_same_places_and_creates_nothing(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12)
    ask = request(session_id, 3)
    first = await inventory.reserve(ask)
    second = await inventory.reserve(ask)
    assert second == first
    assert await seat_states(db, session_id) == {"held": 3, "free": 9}
    async with db() as s:
        count = await s.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.session_id == uuid.UUID(session_id))
        )
    assert count == 1

    other_body = BookingRequest(**{**vars(ask), "request_fingerprint": "other"})
    with pytest.raises(IdempotencyKeyReused):
        await inventory.reserve(other_body)


async def test_group_price_has_the_discount(
    inventory: InventoryActivities, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=12, price_amount=7500)
    group = await inventory.reserve(request(session_id, 5))
    single = await inventory.reserve(request(session_id, 1))
    assert (group.amount_subtotal, group.discount, group.amount_total) == (37500, 3750, 33750)
    assert (single.amount_subtotal, single.discount, single.amount_total) == (7500, 0, 7500)


async def test_confirm_sells_the_places_and_numbers_references_without_gaps(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12)
    held = [await inventory.reserve(request(session_id)) for _ in range(6)]
    confirmations = await asyncio.gather(*[inventory.confirm(h.booking_id) for h in held])
    numbers = sorted(int(c.reference.rsplit("-", 1)[1]) for c in confirmations)
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert all(c.reference.startswith(f"RFT-{c.confirmed_at.year}-") for c in confirmations)
    again = await inventory.confirm(held[0].booking_id)
    assert again.reference == next(
        c.reference for c in confirmations if c.booking_id == held[0].booking_id
    )
    assert await seat_states(db, session_id) == {"sold": 6, "free": 6}


@pytest.mark.parametrize(
    ("make_request", "error"),
    [
        (lambda sid: request(str(uuid.uuid4())), SessionNotFound),
        (lambda sid: request("not-a-uuid"), SessionNotFound),
        (lambda sid: request(sid, quantity=0), InvalidRequest),
        (lambda sid: request(sid, quantity=51), InvalidRequest),
        (lambda sid: request(sid, quantity=13), SoldOut),
        (lambda sid: request(sid, 2, ["A1", "Z9"]), InvalidRequest),
        (lambda sid: request(sid, 2, ["A1", "A1"]), InvalidRequest),
        (lambda sid: request(sid, 3, ["A1", "A2"]), InvalidRequest),
    ],
    ids=[
        "unknown-session",
        "malformed-session",
        "zero",
        "above-bound",
        "over-capacity",
        "seat-of-another-session",
        "same-seat-twice",
        "quantity-mismatch",
    ],
)
async def test_bad_requests_raise_a_domain_error_and_change_nothing(
    inventory: InventoryActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
    make_request,
    error,  # type: ignore[no-untyped-def]
) -> None:
    session_id = await new_session(seat_rows=[SeatRow("A", 12)])
    await new_session(seat_rows=[SeatRow("Z", 9)])  # Z9 exists, but in another session
    with pytest.raises(error):
        await inventory.reserve(make_request(session_id))
    assert await seat_states(db, session_id) == {"free": 12}


async def test_releasing_some_places_stores_the_kept_price_once_however_often_it_runs(
    inventory: InventoryActivities,
    db: async_sessionmaker[AsyncSession],
    new_session: SessionFactory,
) -> None:
    session_id = await new_session(capacity=8)  # £75 a place, 10 % off 5 or more
    held = await inventory.reserve(request(session_id, quantity=6))
    await inventory.confirm(held.booking_id)
    given_back = held.seat_labels[-2:]
    kept = Repriced(held.seat_labels[:4], 30_000, 3_000, 27_000)  # what was paid for the 4

    first, again = await asyncio.gather(
        inventory.release_some(ReleaseSome(held.booking_id, given_back, kept)),
        inventory.release_some(ReleaseSome(held.booking_id, given_back, kept)),
    )

    assert first == again == kept
    assert await seat_states(db, session_id) == {SeatState.SOLD: 4, SeatState.FREE: 4}
    async with db() as s:
        booking = await s.get(Booking, uuid.UUID(held.booking_id))
        assert booking is not None
        assert (booking.quantity, booking.amount_paid, booking.amount_total) == (4, 40_500, 27_000)


async def test_an_expired_booking_forgets_a_confirmation_its_workflow_never_made(
    inventory: InventoryActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    """Found by the chaos test: a confirmation step that committed, then was lost with its
    workflow task (a worker killed), left `confirmed_at` on a booking its workflow then
    expired; reconcile and the email checks asked it for a receipt. EXPIRED clears it."""
    session_id = await new_session(capacity=2)
    held = await inventory.reserve(request(session_id))
    await inventory.confirm(held.booking_id)  # the step whose workflow task was lost

    await inventory.release(held.booking_id)
    await inventory.record(Transition(held.booking_id, BookingStatus.EXPIRED, "the hold ended"))

    async with db() as s:
        booking = await s.get(Booking, uuid.UUID(held.booking_id))
    assert booking is not None
    assert (booking.status, booking.confirmed_at) == (BookingStatus.EXPIRED, None)
