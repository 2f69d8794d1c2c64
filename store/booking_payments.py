"""Every PaymentIntent of a booking (`booking_payments`, migrations 0022, 0023): its own,
written with it, and each dearer move's difference, paid when the move settles or abandoned
when its hold ends; and the claims a partial move hands over to the booking it splits off
(`hand_over`). What a booking was paid is the sum of its claims (`bookings.amount_paid`)."""

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
    """The booking's own intent, for what the booking costs: its claim follows the intent its
    setup opened last (a setup retried with the same Idempotency-Key after Stripe lost the
    first answer may open another), until one is paid."""
    own = insert(BookingPayment).from_select(
        ["payment_intent_id", "booking_id", "amount", "currency"],
        select(literal(intent_id), Booking.id, Booking.amount_total, Booking.currency).where(
            Booking.id == booking_id
        ),
    )
    await db.execute(
        own.on_conflict_do_update(
            index_elements=[BookingPayment.booking_id, BookingPayment.move_number],
            index_where=BookingPayment.transferred_from.is_(None),
            set_={
                "payment_intent_id": own.excluded.payment_intent_id,
                "amount": own.excluded.amount,
            },
            where=BookingPayment.paid_at.is_(None),
        )
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


async def hand_over(
    db: AsyncSession, giver: Booking, taker: Booking, claims: list[tuple[str, int]]
) -> None:
    """Parts of `giver`'s claims, (intent id, amount), become `taker`'s (`transferred_from`
    the giver): the claims on each intent still add up to what Stripe received."""
    for intent_id, amount in claims:
        await db.execute(
            update(BookingPayment)
            .where(
                BookingPayment.payment_intent_id == intent_id,
                BookingPayment.booking_id == giver.id,
            )
            .values(amount=BookingPayment.amount - amount)
        )
        await db.execute(
            insert(BookingPayment).values(
                payment_intent_id=intent_id,
                booking_id=taker.id,
                session_id=taker.session_id,
                amount=amount,
                currency=taker.currency,
                paid_at=func.now(),
                transferred_from=giver.id,
            )
        )


async def claim_difference(db: AsyncSession, intent_id: str, taker: Booking) -> None:
    """A dearer partial move's difference, paid: the intent its opener asked for is the
    booking split off's claim, numbered as the move that made it (0: its first receipt is
    this difference's)."""
    await db.execute(
        update(BookingPayment)
        .where(BookingPayment.payment_intent_id == intent_id)
        .values(
            booking_id=taker.id,
            move_number=0,
            transferred_from=BookingPayment.booking_id,
            paid_at=func.coalesce(BookingPayment.paid_at, func.now()),
        )
    )
