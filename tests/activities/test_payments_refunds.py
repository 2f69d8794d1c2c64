"""The refund step against localstripe: it reads what remains at Stripe before refunding and
refuses more by name (localstripe does not check; real Stripe answers `amount_too_large`)."""

import uuid

import pytest
import stripe
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from core.errors import RefundExceedsRemaining
from devstack.pay import pay
from messages.payments import CreatePaymentIntent, RefundRequest


async def paid_intent(payments: PaymentActivities, stripe_client: stripe.StripeClient) -> str:
    """A PaymentIntent of 10000 pence, paid, for a booking of its own."""
    booking_id = str(uuid.uuid4())
    intent = await ActivityEnvironment().run(
        payments.create_intent, CreatePaymentIntent(booking_id, 10000, "GBP", "ada@example.com")
    )
    assert await pay(stripe_client, intent.id) == "succeeded"
    return intent.id


def order(payment_intent_id: str, amount: int | None, sequence: int | None) -> RefundRequest:
    return RefundRequest(str(uuid.uuid4()), payment_intent_id, "admin", amount, sequence)


async def refused(payments: PaymentActivities, request: RefundRequest) -> RefundExceedsRemaining:
    with pytest.raises(RefundExceedsRemaining) as caught:
        await ActivityEnvironment().run(payments.refund, request)
    assert caught.value.non_retryable
    return caught.value


async def test_a_refund_made_at_stripe_is_subtracted_before_refunding(
    stripe_client: stripe.StripeClient,
) -> None:
    payments = PaymentActivities(stripe_client)
    intent_id = await paid_intent(payments, stripe_client)
    # Made in Stripe's dashboard: the workflow has not read it.
    await stripe_client.v1.refunds.create_async({"payment_intent": intent_id, "amount": 7000})

    refusal = await refused(payments, order(intent_id, 4000, 1))
    assert (refusal.type, refusal.details) == ("RefundExceedsRemaining", ({"remaining": 3000},))

    refund = await ActivityEnvironment().run(payments.refund, order(intent_id, 3000, 1))
    assert (refund.amount, refund.status) == (3000, "succeeded")
    assert sum(r.amount for r in await payments.list_refunds(intent_id)) == 10000


async def test_a_full_refund_of_nothing_left_is_refused(stripe_client: stripe.StripeClient) -> None:
    payments = PaymentActivities(stripe_client)
    intent_id = await paid_intent(payments, stripe_client)
    await stripe_client.v1.refunds.create_async({"payment_intent": intent_id})

    refusal = await refused(payments, order(intent_id, None, None))
    assert refusal.details == ({"remaining": 0},)


async def test_a_retried_refund_answers_the_refund_made_even_once_nothing_remains(
    stripe_client: stripe.StripeClient,
) -> None:
    """The retry after a lost answer: the refund it made is found first, not refused."""
    payments = PaymentActivities(stripe_client)
    intent_id = await paid_intent(payments, stripe_client)
    request = order(intent_id, 10000, 1)
    first = await ActivityEnvironment().run(payments.refund, request)

    again = await ActivityEnvironment().run(payments.refund, request)
    assert again.id == first.id
    assert [r.id for r in await payments.list_refunds(intent_id)] == [first.id]


async def test_an_unpaid_intent_has_nothing_to_refund(stripe_client: stripe.StripeClient) -> None:
    payments = PaymentActivities(stripe_client)
    intent = await payments.create_intent(
        CreatePaymentIntent(str(uuid.uuid4()), 2500, "GBP", "ada@example.com")
    )
    refusal = await refused(payments, order(intent.id, 100, 1))
    assert refusal.details == ({"remaining": 0},)
