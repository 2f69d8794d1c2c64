"""A partial move's settlement on the real PostgreSQL (`settle_split`): one transaction that
makes the new booking of the places moved (their attendees, its reference, `split_from`),
sells it the target's places held, frees the source's, reprices the first booking and hands
its claims over; run again, the same; refused, nothing changed."""

import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.moves import MoveActivities
from core.enums import BookingStatus, SessionStatus
from core.errors import SessionNotBookable
from messages.booking import Claim, HoldMove, Repriced, SettleSplit
from models.tables import Booking, BookingPayment, Session
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import confirmed_booking, seat_states

Db = async_sessionmaker[AsyncSession]


async def _paid_on(db: Db, booking_id: str) -> str:
    """A claim on an intent for all of the booking's price, as its payment writes it."""
    intent = f"pi_{uuid.uuid4().hex[:20]}"
    async with db.begin() as s:
        booking = await s.get_one(Booking, uuid.UUID(booking_id))
        s.add(
            BookingPayment(
                payment_intent_id=intent,
                booking_id=booking.id,
                amount=booking.amount_total,
                currency=booking.currency,
            )
        )
    return intent


async def _split(db: Db, new_session: SessionFactory) -> tuple[SettleSplit, str, str]:
    source, target = await new_session(), await new_session()
    booking = await confirmed_booking(db, source, 3, attendees=3)
    intent = await _paid_on(db, booking)
    async with db() as s:
        row = await s.get_one(Booking, uuid.UUID(booking))
        labels, unit = list(row.seat_labels), row.amount_total // 3
    to = await MoveActivities(db).hold(HoldMove(booking, target, 1))
    kept = Repriced(labels[:2], unit * 2, 0, unit * 2)
    settle = SettleSplit(
        booking, str(uuid.uuid4()), source, to, labels[2:], kept, [Claim(intent, unit)]
    )
    return settle, intent, target


async def test_a_split_settled_twice_is_made_once(db: Db, new_session: SessionFactory) -> None:
    settle, intent, target = await _split(db, new_session)
    moves = MoveActivities(db)

    first, again = await moves.settle_split(settle), await moves.settle_split(settle)

    assert first == again
    assert first.request.booking_id == settle.new_booking_id
    assert [a.name for a in first.request.attendees] == ["Attendee 3"]
    assert await seat_states(db, settle.from_session_id) == {"free": 10, "sold": 2}
    assert await seat_states(db, target) == {"free": 11, "sold": 1}
    unit = settle.handed[0].amount
    async with db() as s:
        split = await s.get_one(Booking, uuid.UUID(settle.new_booking_id))
        kept = await s.get_one(Booking, uuid.UUID(settle.booking_id))
        assert (split.status, split.split_from, split.amount_paid) == (
            BookingStatus.CONFIRMED,
            kept.id,
            unit,
        )
        assert split.reference not in (None, kept.reference)
        assert (kept.seat_labels, kept.amount_paid) == (settle.kept.seat_labels, unit * 2)
        claims = await s.execute(
            select(BookingPayment.booking_id, BookingPayment.amount).where(
                BookingPayment.payment_intent_id == intent
            )
        )
        assert dict(claims.all()) == {kept.id: unit * 2, split.id: unit}


async def test_a_split_refused_once_a_session_is_cancelled_changes_nothing(
    db: Db, new_session: SessionFactory
) -> None:
    settle, intent, target = await _split(db, new_session)
    async with db.begin() as s:
        await s.execute(
            update(Session)
            .where(Session.id == uuid.UUID(target))
            .values(status=SessionStatus.CANCELLED)
        )

    with pytest.raises(SessionNotBookable):
        await MoveActivities(db).settle_split(settle)

    async with db() as s:
        assert await s.get(Booking, uuid.UUID(settle.new_booking_id)) is None
        kept = await s.get_one(Booking, uuid.UUID(settle.booking_id))
        assert len(kept.seat_labels) == 3
        claims = await s.scalars(
            select(BookingPayment.booking_id).where(BookingPayment.payment_intent_id == intent)
        )
        assert list(claims) == [kept.id]
    assert await seat_states(db, settle.from_session_id) == {"free": 9, "sold": 3}
