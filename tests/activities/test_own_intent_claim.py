"""A booking's claim on its own intent follows the intent its setup opened last: a setup
retried with the same Idempotency-Key after Stripe lost the first answer opens another intent
(localstripe, as Stripe without the idempotency key's memory), and the booking is paid there.
Found by the chaos test: the claim stayed on the first intent, and reconcile reported the
confirmed booking unpaid and its refunds as no booking's."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models.tables import BookingPayment
from store.booking_payments import mark_paid, record_own_intent
from tests.helpers.api_bookings import session_with, start_booking
from tests.helpers.stack import Stack


async def _own_claims(stack: Stack, booking_id: uuid.UUID) -> list[str]:
    async with stack.db() as s:
        found = await s.scalars(
            select(BookingPayment.payment_intent_id).where(
                BookingPayment.booking_id == booking_id, BookingPayment.move_number.is_(None)
            )
        )
        return list(found)


async def test_the_own_claim_follows_the_last_intent_until_one_is_paid(stack: Stack) -> None:
    booking = await start_booking(
        stack.api, await session_with(stack.api, datetime.now(UTC) + timedelta(days=30)), 1
    )
    key, first = uuid.UUID(booking["id"]), booking["payment"]["payment_intent_id"]
    assert await _own_claims(stack, key) == [first]

    async with stack.db.begin() as s:
        await record_own_intent(s, key, "pi_retried_setup")
    assert await _own_claims(stack, key) == ["pi_retried_setup"]

    async with stack.db.begin() as s:
        await mark_paid(s, "pi_retried_setup")
        await record_own_intent(s, key, "pi_after_payment")
    assert await _own_claims(stack, key) == ["pi_retried_setup"]
