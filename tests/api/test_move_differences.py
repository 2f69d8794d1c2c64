"""Each difference a move asks for has a number of its own: a dearer move given up at its
hold's end, asked again, opens a new intent (not the cancelled one Stripe's idempotency key
would give back) and, paid, settles with its own claim and receipt."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from devstack.pay import pay
from models.tables import BookingPayment, Receipt, Session
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack


async def _move(stack: Stack, booking_id: str, session_id: str) -> dict:
    answer = await stack.api.post(
        f"/v1/bookings/{booking_id}/move",
        json={"session_id": session_id},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json()["move_payment"])


async def test_a_dearer_move_given_up_then_asked_again_is_paid_on_a_new_intent(
    stack: Stack,
) -> None:
    starts = datetime.now(UTC) + timedelta(days=30)
    source = await session_with(stack.api, starts)
    target = await session_with(stack.api, starts)
    async with stack.db.begin() as s:
        await s.execute(
            update(Session)
            .where(Session.id == uuid.UUID(target))
            .values(price_amount=9_000, hold_seconds=1)
        )
    booking = await paid_booking(stack.api, stack.stripe_client, source, 1)
    given_up = await _move(stack, booking["id"], target)
    await eventually(
        lambda: stack.stripe_client.v1.payment_intents.retrieve_async(
            given_up["payment_intent_id"]
        ),
        lambda intent: intent.status == "canceled",
        what="the first difference given up",
    )
    async with stack.db.begin() as s:
        await s.execute(
            update(Session).where(Session.id == uuid.UUID(target)).values(hold_seconds=600)
        )

    asked = await _move(stack, booking["id"], target)

    assert asked["payment_intent_id"] != given_up["payment_intent_id"]
    assert await pay(stack.stripe_client, asked["payment_intent_id"]) == "succeeded"

    async def moved() -> dict:
        return dict((await stack.api.get(f"/v1/bookings/{booking['id']}")).json())

    done = await eventually(moved, lambda b: b["session_id"] == target, what="the move")
    assert (done["amount_paid"], done["amount_total"]) == (9_000, 9_000)
    async with stack.db() as s:
        rows = await s.execute(
            select(BookingPayment.move_number, BookingPayment.paid_at.is_not(None)).where(
                BookingPayment.booking_id == uuid.UUID(booking["id"]),
                BookingPayment.move_number.is_not(None),
            )
        )
        assert sorted(rows.all()) == [(1, False), (2, True)]

    async def receipts() -> list[tuple[int | None, int]]:
        async with stack.db() as s:
            found = await s.execute(
                select(Receipt.move_number, Receipt.total).where(
                    Receipt.booking_id == uuid.UUID(booking["id"])
                )
            )
            return sorted(found.all(), key=str)

    await eventually(
        receipts, lambda found: found == [(2, 1_500), (None, 7_500)], what="the receipts"
    )
