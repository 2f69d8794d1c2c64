"""A booking's move on the real PostgreSQL: the target's places held by the reservation path
(never oversold however many moves at once), each step safe to run again, and a settlement
refused, nothing changed, once a session of the move is cancelled."""

import asyncio
import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.moves import MoveActivities
from core.enums import SessionStatus
from core.errors import SessionNotBookable, SoldOut
from messages.booking import HoldMove, SettleMove
from models.tables import Booking, Session
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import confirmed_booking, seat_states

Db = async_sessionmaker[AsyncSession]


async def test_twenty_moves_at_once_hold_exactly_the_places_left(
    db: Db, new_session: SessionFactory
) -> None:
    source, target = await new_session(capacity=20), await new_session(capacity=3)
    bookings = [await confirmed_booking(db, source, 1) for _ in range(20)]
    moves = MoveActivities(db)

    held = await asyncio.gather(
        *(moves.hold(HoldMove(b, target, 1)) for b in bookings), return_exceptions=True
    )

    places = [r for r in held if not isinstance(r, BaseException)]
    assert len(places) == 3
    assert all(isinstance(r, SoldOut) for r in held if isinstance(r, BaseException))
    assert await seat_states(db, target) == {"held": 3}
    assert await seat_states(db, source) == {"sold": 20}  # nothing freed before settling


async def test_hold_and_settle_run_again_change_nothing_more(
    db: Db, new_session: SessionFactory
) -> None:
    source, target = await new_session(), await new_session()
    booking = await confirmed_booking(db, source, 2)
    moves, hold = MoveActivities(db), HoldMove(booking, target, 2)

    first, again = await moves.hold(hold), await moves.hold(hold)
    assert first.seat_labels == again.seat_labels
    settle = SettleMove(booking, source, first)
    assert (await moves.settle(settle)).move_number == 1
    assert (await moves.settle(settle)).move_number == 1
    assert await moves.release(hold) == 0  # sold now: nothing held to give back

    assert await seat_states(db, source) == {"free": 12}
    assert await seat_states(db, target) == {"free": 10, "sold": 2}
    async with db() as s:
        row = await s.get_one(Booking, uuid.UUID(booking))
        assert (str(row.session_id), row.seat_labels, row.moves) == (target, first.seat_labels, 1)


async def test_a_settlement_after_a_session_was_cancelled_changes_nothing(
    db: Db, new_session: SessionFactory
) -> None:
    source, target = await new_session(), await new_session()
    booking = await confirmed_booking(db, source, 1)
    moves, hold = MoveActivities(db), HoldMove(booking, target, 1)
    to = await moves.hold(hold)
    async with db.begin() as s:
        await s.execute(
            update(Session)
            .where(Session.id == uuid.UUID(source))
            .values(status=SessionStatus.CANCELLED)
        )

    with pytest.raises(SessionNotBookable):
        await moves.settle(SettleMove(booking, source, to))
    assert await moves.release(hold) == 1
    assert await seat_states(db, source) == {"free": 11, "sold": 1}
    assert await seat_states(db, target) == {"free": 12}
