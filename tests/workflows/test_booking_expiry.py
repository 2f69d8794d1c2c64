"""The hold's end: the booking expires, or is confirmed, or waits while Stripe is processing;
money that arrives after the end is refunded."""

import asyncio

import pytest
from temporalio import activity

from clients.booking_workflows import cancel_booking_workflow
from core.enums import BookingStatus, EmailKind, SeatState
from core.errors import BookingNotCancellable
from core.settings import Settings
from messages.booking import CancelRequest
from messages.payments import PaymentEventType, PaymentIntentInfo, PaymentState
from tests.helpers.emails import emails_at_rest, emails_for
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    book,
    handle_of,
    pay_at_stripe,
    places_of,
    refunds_of,
    stripe_agrees,
    tell,
    view_of,
    wait_for,
    wait_for_status,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker


async def test_an_unpaid_hold_expires_and_frees_its_places(stack: Stack, quick: Settings) -> None:
    settings = quick.model_copy(update={"late_payment_window_seconds": 60})
    view = await book(
        stack.temporal, settings, await stack.new_session(capacity=12, hold_seconds=1), 3
    )

    # The intent is cancelled at Stripe first, so no money can follow: the workflow ends now.
    expired = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10)
    assert expired.status == BookingStatus.EXPIRED
    assert expired.status_reason == "the hold ended before payment"
    assert expired.reference is None and expired.refund_ids == []
    assert view.payment_intent_id is not None
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(view.payment_intent_id)
    assert intent.status == "canceled"
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.HOLD_EXPIRED
    ]
    await assert_consistent(stack.db, expired)


async def test_money_the_expiry_finds_confirms_the_booking(
    stack: Stack, quick: Settings, no_webhooks: None
) -> None:
    """Paid, but no event ever came: cancelling at expiry fails because Stripe has the money."""
    view = await book(
        stack.temporal, quick, await stack.new_session(capacity=12, hold_seconds=1), 2
    )
    await pay_at_stripe(stack.stripe_client, view)
    assert (await view_of(stack.temporal, view.id)).status == BookingStatus.PENDING_PAYMENT

    confirmed = await wait_for(
        stack.temporal, view.id, lambda v: v.status == BookingStatus.CONFIRMED and bool(v.documents)
    )
    assert confirmed.reference is not None
    assert await refunds_of(stack.stripe_client, view) == []
    await assert_consistent(stack.db, confirmed)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 2}


async def test_processing_extends_the_hold_then_late_money_is_refunded(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Stripe says "processing" at every cancellation (forced: localstripe has no such state):
    the hold is extended `max_hold_extensions` times, then expires; the money that succeeds
    after that is refunded once, and the workflow ends with its late-payment window."""

    @activity.defn(name="cancel_payment_intent")
    async def still_processing(payment_intent_id: str) -> PaymentIntentInfo:
        intent = await stack.stripe_client.v1.payment_intents.retrieve_async(payment_intent_id)
        return PaymentIntentInfo(intent.id, PaymentState.PROCESSING, intent.amount, 0, "GBP")

    settings = await own_worker(
        still_processing,
        hold_extension_seconds=1,
        max_hold_extensions=2,
        late_payment_window_seconds=3,
    )
    session_id = await stack.new_session(capacity=12, hold_seconds=1)
    view = await book(stack.temporal, settings, session_id, quantity=2)

    extended = await wait_for(
        stack.temporal, view.id, lambda v: v.hold_expires_at > view.hold_expires_at
    )
    assert extended.status_reason == "payment is processing"
    assert extended.status == BookingStatus.PENDING_PAYMENT
    await assert_consistent(stack.db, extended)
    expired = await wait_for_status(stack.temporal, view.id, BookingStatus.EXPIRED, within=8)
    assert expired.status_reason == "the hold ended before payment"
    # Two extensions of a second each, after the hold of a second.
    held_for = (expired.hold_expires_at - view.hold_expires_at).total_seconds()
    assert 1.5 < held_for < 4, held_for
    await assert_consistent(stack.db, expired)
    with pytest.raises(BookingNotCancellable, match="EXPIRED"):
        await cancel_booking_workflow(stack.temporal, view.id, CancelRequest(), expired.status)

    # A success event while nothing is paid changes nothing; then the money does arrive.
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    await asyncio.sleep(0.3)
    assert (await view_of(stack.temporal, view.id)).refund_ids == []
    await pay_at_stripe(stack.stripe_client, view)
    await tell(stack.temporal, view, PaymentEventType.FAILED)
    paid_event = await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    refunded = await wait_for(stack.temporal, view.id, lambda v: bool(v.refund_ids))
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED, paid_event)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)

    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10)
    assert ended.status == BookingStatus.EXPIRED
    assert ended.status_reason == "a late payment was refunded"
    assert ended.refund_ids == refunded.refund_ids and len(ended.refund_ids) == 1
    assert await refunds_of(stack.stripe_client, view) == [(15_000, "late-payment")]
    assert emails_for(stack.sendgrid, view.id) == [
        EmailKind.HOLD_EXPIRED,
        EmailKind.LATE_PAYMENT_REFUNDED,
    ]
    await assert_consistent(stack.db, ended)
    await keep_history(stack.temporal, view.id, "late_payment_refunded")
    await stripe_agrees(stack, view.id, 0)
