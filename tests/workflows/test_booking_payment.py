"""The booking workflow while it waits for payment: Stripe's events, in any order, any number."""

import asyncio
from dataclasses import replace

from temporalio import activity

from activities.payments import PaymentActivities
from core.enums import BookingStatus, DocumentKind, EmailKind, SeatState
from core.errors import InvalidRequest
from core.settings import Settings
from messages.booking import DocumentRef, IssueDocument
from messages.payments import PaymentEventType, PaymentIntentInfo, PaymentState
from tests.helpers.emails import emails_at_rest
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    book,
    documents_of,
    handle_of,
    pay_and_tell,
    pay_at_stripe,
    places_of,
    refunds_of,
    stripe_echoes_its_refunds,
    tell,
    view_of,
    wait_for,
    wait_for_status,
)
from tests.workflows.conftest import OwnWorker


async def test_a_payment_confirms_with_reference_receipt_and_email(
    stack: Stack, quick: Settings
) -> None:
    view = await book(stack.temporal, quick, await stack.new_session(capacity=12), quantity=5)
    confirmed = await pay_and_tell(stack.temporal, stack.stripe_client, view)

    assert confirmed.reference and confirmed.reference.startswith("RFT-")
    assert confirmed.confirmed_at is not None and confirmed.status_reason is None
    [receipt] = confirmed.documents
    assert (await documents_of(stack.db, view.id)) == {DocumentKind.RECEIPT: receipt}
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.CONFIRMATION
    ]
    assert await refunds_of(stack.stripe_client, view) == []
    await assert_consistent(stack.db, confirmed)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 5}


async def test_a_booking_confirms_on_a_worker_without_the_sandbox(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Production runs workflows bare (worker_sandbox off); the suite's own worker sandboxes."""
    bare = await own_worker(worker_sandbox=False)
    view = await book(stack.temporal, bare, await stack.new_session(capacity=3), quantity=2)
    confirmed = await pay_and_tell(stack.temporal, stack.stripe_client, view)

    assert confirmed.status == BookingStatus.CONFIRMED and confirmed.reference
    assert len(confirmed.documents) == 1
    await assert_consistent(stack.db, confirmed)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 2}


async def test_a_failed_payment_keeps_the_booking_payable_until_it_is_paid(
    stack: Stack, quick: Settings
) -> None:
    view = await book(stack.temporal, quick, await stack.new_session(capacity=12), quantity=2)
    await tell(
        stack.temporal, view, PaymentEventType.FAILED, failure_message="Your card was declined."
    )
    await tell(stack.temporal, view, PaymentEventType.FAILED)  # Stripe gave no message
    failed = await wait_for(stack.temporal, view.id, lambda v: len(v.payment_failures) == 2)
    assert failed.payment_failures == ["Your card was declined.", "the payment was declined"]
    assert failed.status == BookingStatus.PENDING_PAYMENT
    await assert_consistent(stack.db, failed)

    # An event that is not a payment (nothing paid yet at Stripe) changes nothing either.
    await tell(stack.temporal, view, PaymentEventType.PROCESSING)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)  # a lie: Stripe's state decides
    await asyncio.sleep(0.5)
    assert await view_of(stack.temporal, view.id) == failed

    confirmed = await pay_and_tell(stack.temporal, stack.stripe_client, view)
    assert confirmed.payment_failures == failed.payment_failures
    await assert_consistent(stack.db, confirmed)


async def test_duplicate_and_shuffled_events_count_once(stack: Stack, quick: Settings) -> None:
    view = await book(stack.temporal, quick, await stack.new_session(capacity=12))
    declined = await tell(stack.temporal, view, PaymentEventType.FAILED, failure_message="declined")
    await pay_at_stripe(stack.stripe_client, view)
    succeeded = await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    for event_type, event_id in [
        (PaymentEventType.FAILED, declined),
        (PaymentEventType.SUCCEEDED, succeeded),
        (PaymentEventType.PROCESSING, None),
        (PaymentEventType.SUCCEEDED, succeeded),
        (PaymentEventType.FAILED, None),  # older than the success, delivered after it
        (PaymentEventType.SUCCEEDED, None),  # the same success under another event id
    ]:
        await tell(stack.temporal, view, event_type, event_id)
    confirmed = await wait_for(
        stack.temporal, view.id, lambda v: v.status == BookingStatus.CONFIRMED and bool(v.documents)
    )
    await asyncio.sleep(0.5)

    settled = await view_of(stack.temporal, view.id)
    assert settled == confirmed
    assert settled.payment_failures == ["declined"]
    assert len(settled.documents) == 1 and settled.refund_ids == []
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.CONFIRMATION
    ]
    assert await refunds_of(stack.stripe_client, view) == []
    await assert_consistent(stack.db, settled)


async def test_an_intent_cancelled_at_stripe_cancels_the_booking(
    stack: Stack, quick: Settings
) -> None:
    view = await book(
        stack.temporal,
        quick.model_copy(update={"late_payment_window_seconds": 60}),
        await stack.new_session(capacity=12),
        3,
    )
    assert view.payment_intent_id is not None
    await stack.stripe_client.v1.payment_intents.cancel_async(view.payment_intent_id)
    await tell(stack.temporal, view, PaymentEventType.CANCELLED)

    # A cancelled intent can never be paid: the workflow ends now, not after the late window.
    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10)
    assert ended.status == BookingStatus.CANCELLED
    assert ended.status_reason == "the payment was cancelled at Stripe"
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.CANCELLED
    ]
    await assert_consistent(stack.db, ended)


async def test_a_payment_of_the_wrong_amount_is_refunded(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Stripe reports less money received than the booking costs (forced: localstripe always
    takes the intent's amount): nothing is confirmed and what was paid goes back."""
    real = PaymentActivities(stack.stripe_client)

    @activity.defn(name="get_payment_intent")
    async def short_paid(payment_intent_id: str) -> PaymentIntentInfo:
        intent = await real.get_intent(payment_intent_id)
        if intent.status != PaymentState.PAID:
            return intent
        return replace(intent, amount_received=intent.amount_received - 100)

    settings = await own_worker(short_paid, late_payment_window_seconds=3)
    view = await book(stack.temporal, settings, await stack.new_session(capacity=12), quantity=2)
    await pay_at_stripe(stack.stripe_client, view)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    refunded = await wait_for_status(stack.temporal, view.id, BookingStatus.REFUNDED)

    assert refunded.status_reason == "paid 14900 GBP, expected 15000 GBP: refunded"
    assert refunded.reference is None and refunded.documents == []
    assert await refunds_of(stack.stripe_client, view) == [(15_000, "amount-mismatch")]
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.REFUNDED
    ]
    await assert_consistent(stack.db, refunded)

    # Stripe's retry of the same success during the late window refunds nothing more.
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10)
    assert ended.status == BookingStatus.REFUNDED and len(ended.refund_ids) == 1
    assert await refunds_of(stack.stripe_client, view) == [(15_000, "amount-mismatch")]
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)


async def test_a_refused_email_or_document_is_noted_and_the_booking_stands(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """SendGrid refuses the key, and the receipt cannot be issued (forced, non-retryable):
    neither undoes a paid booking."""

    @activity.defn(name="issue_document")
    async def cannot_issue(request: IssueDocument) -> DocumentRef:
        raise InvalidRequest("no receipt for this booking")

    settings = await own_worker(cannot_issue, sendgrid_api_key="SG.revoked")
    view = await book(stack.temporal, settings, await stack.new_session(capacity=12))
    await pay_at_stripe(stack.stripe_client, view)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    noted = await wait_for(stack.temporal, view.id, lambda v: bool(v.emails_refused))

    assert noted.emails_refused == [EmailKind.CONFIRMATION]
    assert noted.status == BookingStatus.CONFIRMED and noted.reference is not None
    assert noted.documents == [] and await documents_of(stack.db, view.id) == {}
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 1}
    assert await refunds_of(stack.stripe_client, view) == []
