"""The safety net and late money on intents a booking does not hold alone: an intent two
bookings claim (a partial move's split, written by hand as in test_shared_intents.py) is left
alone while one of them is confirmed, and once both are closed only what no booking holds of it
is refunded, once; late money on two intents of one booking is refunded once each, under a
key of its own (localstripe ignores idempotency keys: a fake Stripe shows them)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities, make_stripe_client
from activities.repairs import stripe_refunds_workflow_id
from messages.payments import RefundRequest
from tests.activities.test_payments_errors import PAID_INTENT, FakeStripe
from tests.helpers.consistency import expired
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import run_safety_net
from tests.histories import HISTORIES, keep_workflow_history
from tests.reconcile.breaking import free_places, sql, stray_payment, terminate
from tests.reconcile.splits import a_split, claims_short_of_what_was_received
from tests.workflows.test_safety_net import refunds_of
from workflows.stripe_refunds import SAFETY_NET_REASON

LOST = 100  # what the split's claims lost: held by no booking


async def close(db: async_sessionmaker[AsyncSession], booking_id: str) -> None:
    """Cancelled with nothing refunded (its policy kept it all), its places given back."""
    await sql(
        db,
        "UPDATE bookings SET status = 'CANCELLED', closed_at = now() WHERE id = :id",
        id=booking_id,
    )
    await free_places(db, {"id": booking_id})


async def late_refunds_of(stack: Stack, intent_id: str) -> list[tuple[int, str, str]]:
    """(amount, reason, booking named) of each refund of the intent at Stripe."""
    found = await stack.stripe_client.v1.refunds.list_async({"payment_intent": intent_id})
    return [
        (r.amount, r.to_dict()["metadata"]["reason"], r.to_dict()["metadata"]["booking_id"])
        for r in found.data
    ]


async def test_a_shared_intent_is_refunded_only_what_no_booking_holds(stack: Stack) -> None:
    split = await a_split(stack.api, stack.stripe_client, stack.db, stack.new_session)
    await claims_short_of_what_was_received(stack.db, stack.stripe_client, split)
    await terminate(stack.temporal, split.booking("p"))
    await close(stack.db, split.p)

    # C, CONFIRMED, claims it: the intent is claimed, whatever else is in it.
    report = await run_safety_net(stack.temporal, stack.settings)
    assert split.intent not in report.refunded
    assert await late_refunds_of(stack, split.intent) == []

    # Both closed: each keeps its claim (its policy's outcome); what no claim holds goes back,
    # named after the intent's opener, and recorded on it as the safety net's.
    await close(stack.db, split.c)
    report = await run_safety_net(stack.temporal, stack.settings)
    assert split.intent in report.refunded
    assert await late_refunds_of(stack, split.intent) == [(LOST, "late-payment", split.p)]
    assert await refunds_of(stack.db, split.p) == [(LOST, SAFETY_NET_REASON)]
    recorder = stripe_refunds_workflow_id(split.p)
    await stack.temporal.get_workflow_handle(recorder).result()
    await keep_workflow_history(
        stack.temporal, recorder, HISTORIES / "stripe-refunds" / "shared_intent_unclaimed_part"
    )

    again = await run_safety_net(stack.temporal, stack.settings)
    assert split.intent not in again.refunded
    assert await late_refunds_of(stack, split.intent) == [(LOST, "late-payment", split.p)]


async def test_late_money_on_two_intents_of_one_booking_is_refunded_once_each(
    stack: Stack,
) -> None:
    """An expired booking (its workflow over) paid twice on intents of its own (two more
    checkouts, say): both its, neither claimed (the booking records neither: no claim of its
    is on them)."""
    _, booking = await expired(stack.api, stack.new_session)
    own = await stray_payment(stack.stripe_client, booking)
    stray = await stray_payment(stack.stripe_client, booking)

    report = await run_safety_net(stack.temporal, stack.settings)

    assert {own, stray} <= set(report.refunded)
    for intent in (own, stray):
        assert await late_refunds_of(stack, intent) == [
            (booking["amount_total"], "late-payment", booking["id"])
        ]
    again = await run_safety_net(stack.temporal, stack.settings)
    assert not {own, stray} & set(again.refunded)


async def test_late_money_on_two_intents_is_refunded_under_a_key_per_intent() -> None:
    """Real Stripe refuses a key used again for another intent (and would answer a retry of the
    second refund with the first)."""
    booking_id = str(uuid.uuid4())
    with FakeStripe() as fake:
        for intent in ("pi_first", "pi_second"):
            fake.answer(f"GET /v1/payment_intents/{intent}", 200, {**PAID_INTENT, "id": intent})
        fake.answer(
            "GET /v1/refunds", 200, {"object": "list", "data": [], "has_more": False, "url": ""}
        )
        refund = {"id": "re_fake", "object": "refund", "status": "succeeded", "amount": 2500}
        fake.answer("POST /v1/refunds", 200, {**refund, "currency": "gbp", "metadata": {}})
        payments = PaymentActivities(make_stripe_client("sk_test_fake", fake.base_url))
        for intent in ("pi_first", "pi_second", "pi_first"):
            request = RefundRequest(booking_id, intent, "late-payment")
            await ActivityEnvironment().run(payments.refund, request)

    first, second, first_again = fake.idempotency_keys
    assert first != second
    assert first_again == first  # a retry of the same refund is the same refund
