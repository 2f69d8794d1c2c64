"""Every PaymentIntent of a booking (`booking_payments`, migration 0022): its own, written with
it, and each dearer move's difference, paid when the move settles or abandoned when its hold
ends. What a booking was paid is the sum over its paid intents (`bookings.amount_paid`)."""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Booking, BookingPayment


@dataclass(frozen=True)
class MoveIntent:
    """A move's difference intent as written: which move, for which session, how much."""

    payment_intent_id: str
    booking_id: uuid.UUID
    move_number: int
    session_id: uuid.UUID
    amount: int
    currency: str


async def record_own_intent(db: AsyncSession, booking_id: uuid.UUID, intent_id: str) -> None:
    """The booking's own intent, for what the booking costs (once, whatever the retries)."""
    await db.execute(
        insert(BookingPayment)
        .from_select(
            ["payment_intent_id", "booking_id", "amount", "currency"],
            select(literal(intent_id), Booking.id, Booking.amount_total, Booking.currency).where(
                Booking.id == booking_id
            ),
        )
        .on_conflict_do_nothing()
    )


async def record_move_intent(db: AsyncSession, intent: MoveIntent) -> None:
    await db.execute(
        insert(BookingPayment)
        .values(
            payment_intent_id=intent.payment_intent_id,
            booking_id=intent.booking_id,
            move_number=intent.move_number,
            session_id=intent.session_id,
            amount=intent.amount,
            currency=intent.currency,
        )
        .on_conflict_do_nothing()
    )


async def mark_paid(db: AsyncSession, intent_id: str) -> None:
    await db.execute(
        update(BookingPayment)
        .where(BookingPayment.payment_intent_id == intent_id, BookingPayment.paid_at.is_(None))
        .values(paid_at=func.now())
    )


async def mark_abandoned(db: AsyncSession, intent_id: str) -> None:
    await db.execute(
        update(BookingPayment)
        .where(
            BookingPayment.payment_intent_id == intent_id,
            BookingPayment.abandoned_at.is_(None),
            BookingPayment.paid_at.is_(None),
        )
        .values(abandoned_at=func.now())
    )


async def move_payment(
    db: AsyncSession, booking_id: uuid.UUID, move_number: int
) -> BookingPayment | None:
    return await db.scalar(
        select(BookingPayment).where(
            BookingPayment.booking_id == booking_id, BookingPayment.move_number == move_number
        )
    )
