"""Cancelling a booking that waits for payment: cancelled, or confirmed and refunded when the
money is already there, or cancelled with the money refunded when it comes later."""

import asyncio

import pytest
from temporalio import activity

from clients.booking_workflows import cancel_booking_workflow
from core.enums import BookingStatus, DocumentKind, EmailKind
from core.errors import BookingNotCancellable
from core.settings import Settings
from messages.booking import CancelRequest
from messages.payments import PaymentEventType, PaymentIntentInfo, PaymentState
from tests.helpers.emails import emails_at_rest, emails_for
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    book,
    documents_of,
    handle_of,
    pay_at_stripe,
    refunds_of,
    stripe_agrees,
    tell,
    wait_for,
)
from tests.workflows.conftest import OwnWorker


async def test_cancelling_before_payment_frees_the_places_and_the_intent(
    stack: Stack, quick: Settings
) -> None:
    settings = quick.model_copy(update={"late_payment_window_seconds": 60})
    session_id = await stack.new_session(capacity=12)
    by_customer, by_organiser = [
        await book(stack.temporal, settings, session_id, 2) for _ in range(2)
    ]

    cancelled, session_cancelled = await asyncio.gather(
        cancel_booking_workflow(
            stack.temporal, by_customer.id, CancelRequest("changed my mind"), by_customer.status
        ),
        cancel_booking_workflow(
            stack.temporal,
            by_organiser.id,
            CancelRequest("the trainer is ill", session_cancelled=True),
            by_organiser.status,
        ),
    )

    assert (cancelled.status, cancelled.status_reason) == (
        BookingStatus.CANCELLED,
        "changed my mind",
    )
    assert session_cancelled.status == BookingStatus.CANCELLED
    for view, email in [
        (cancelled, EmailKind.CANCELLED),
        (session_cancelled, EmailKind.SESSION_CANCELLED),
    ]:
        assert view.payment_intent_id is not None
        intent = await stack.stripe_client.v1.payment_intents.retrieve_async(view.payment_intent_id)
        assert intent.status == "canceled"
        # The intent can never be paid: the workflow ends without a late-payment window.
        assert await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10) == view
        assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [email]
        assert view.refund_ids == []
        await assert_consistent(stack.db, view)
    with pytest.raises(BookingNotCancellable):
        await cancel_booking_workflow(
            stack.temporal, cancelled.id, CancelRequest(), cancelled.status
        )


async def test_a_cancel_that_finds_the_money_confirms_then_refunds(
    stack: Stack, quick: Settings, no_webhooks: None
) -> None:
    """Paid a moment before the cancel and no event yet: the intent cannot be cancelled."""
    view = await book(stack.temporal, quick, await stack.new_session(capacity=12), quantity=2)
    await pay_at_stripe(stack.stripe_client, view)
    refunded = await cancel_booking_workflow(
        stack.temporal, view.id, CancelRequest("ill"), view.status
    )

    assert (refunded.status, refunded.status_reason) == (BookingStatus.REFUNDED, "ill")
    assert refunded.reference is not None and len(refunded.documents) == 2
    assert set(await documents_of(stack.db, view.id)) == {
        DocumentKind.RECEIPT,
        DocumentKind.CREDIT_NOTE,
    }
    assert await refunds_of(stack.stripe_client, view) == [(15_000, "customer-policy")]
    assert await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10) == refunded
    assert emails_for(stack.sendgrid, view.id) == [
        EmailKind.CONFIRMATION,
        EmailKind.REFUNDED,
    ]
    await assert_consistent(stack.db, refunded)
    await stripe_agrees(stack, view.id, 0)


async def test_money_after_a_cancel_stripe_could_not_stop_is_refunded(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The intent is processing when the customer cancels (forced): cancelled at once, and
    the payment that succeeds afterwards is refunded within the late-payment window."""

    @activity.defn(name="cancel_payment_intent")
    async def still_processing(payment_intent_id: str) -> PaymentIntentInfo:
        intent = await stack.stripe_client.v1.payment_intents.retrieve_async(payment_intent_id)
        return PaymentIntentInfo(intent.id, PaymentState.PROCESSING, intent.amount, 0, "GBP")

    settings = await own_worker(still_processing, late_payment_window_seconds=3)
    view = await book(stack.temporal, settings, await stack.new_session(capacity=12))
    cancelled = await cancel_booking_workflow(stack.temporal, view.id, CancelRequest(), view.status)
    assert cancelled.status == BookingStatus.CANCELLED
    await assert_consistent(stack.db, cancelled)

    await pay_at_stripe(stack.stripe_client, view)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    refunded = await wait_for(
        stack.temporal, view.id, lambda v: v.status_reason == "a late payment was refunded"
    )
    assert refunded.status == BookingStatus.CANCELLED
    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10)
    assert ended.refund_ids == refunded.refund_ids
    assert await refunds_of(stack.stripe_client, view) == [(7_500, "late-payment")]
    assert emails_for(stack.sendgrid, view.id) == [
        EmailKind.CANCELLED,
        EmailKind.LATE_PAYMENT_REFUNDED,
    ]
    await assert_consistent(stack.db, ended)
    await stripe_agrees(stack, view.id, 0)
