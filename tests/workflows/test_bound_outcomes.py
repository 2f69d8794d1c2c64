"""Every Stripe step of the booking workflow that reaches the bound of its retries ends in a
named outcome (issue 17, invariant I8), never a failed workflow run. Each test replaces one
activity by name with Stripe not answering (retried, as `activities.payments.classify` says)
a few milliseconds apart, so the step's 12 attempts run out at once."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import stripe
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.payments import PaymentActivities
from activities.repairs import stripe_refunds_workflow_id
from clients.booking_workflows import change_within, start_booking_workflow
from core.enums import BookingStatus, RefundSource, SeatState
from core.errors import PaymentProviderUnavailable
from core.settings import Settings
from devstack.pay import pay
from messages.booking import BookingView, CancelRequest, RefundOrder
from messages.payments import PaymentEventType, PaymentIntentInfo, RefundInfo, RefundRequest
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    Db,
    assert_books_match_stripe,
    booking_request,
    confirmed,
    handle_of,
    places_of,
    run_safety_net,
    session_row_cancelled,
    tell,
    view_of,
    wait_for_status,
)
from tests.helpers.workflow_rest import settled
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow

# Only the test tells the booking of payments: localstripe's own webhooks would add events,
# and with them attempts and workflow tasks, at moments of their own.
pytestmark = pytest.mark.usefixtures("no_webhooks")

ATTEMPTS = 12  # STRIPE_STEP's
SAFETY_NET_ATTEMPTS = 3  # its repairs'


def unanswered() -> ApplicationError:
    """Stripe not answering, retried a few milliseconds later."""
    return ApplicationError(
        "Stripe did not answer: timed out",
        type=PaymentProviderUnavailable.__name__,
        next_retry_delay=timedelta(milliseconds=5),
    )


class Down:
    """Records the calls of a replaced activity (by what they name); the first `calls` are
    not answered."""

    def __init__(self, calls: int = 10**6) -> None:
        self.calls: list[str] = []
        self._calls = calls

    @property
    def seen(self) -> int:
        return len(self.calls)

    def fails(self, name: str) -> bool:
        self.calls.append(name)
        return self.seen <= self._calls


def refunds_down(real: PaymentActivities, down: Down) -> Callable[..., Any]:
    @activity.defn(name="refund_payment")
    async def refund(request: RefundRequest) -> RefundInfo:
        if down.fails(request.payment_intent_id):
            raise unanswered()
        return await real.refund(request)

    return refund


def refund_lists_down(down: Down) -> Callable[..., Any]:
    @activity.defn(name="list_refunds")
    async def list_refunds(payment_intent_id: str) -> list[RefundInfo]:
        down.fails(payment_intent_id)
        raise unanswered()

    return list_refunds


def cancels_down(down: Down) -> Callable[..., Any]:
    @activity.defn(name="cancel_payment_intent")
    async def cancel_intent(payment_intent_id: str) -> PaymentIntentInfo:
        down.fails(payment_intent_id)
        raise unanswered()

    return cancel_intent


async def still_running(temporal: Client, booking_id: str) -> bool:
    description = await handle_of(temporal, booking_id).describe()
    return description.status == WorkflowExecutionStatus.RUNNING


async def test_an_admin_refund_stripe_does_not_answer_is_refused_503_and_nothing_moves(
    stack: Stack, own_worker: OwnWorker
) -> None:
    down = Down()
    settings = await own_worker(refunds_down(PaymentActivities(stack.stripe_client), down))
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=2)
    )

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle_of(stack.temporal, view.id).execute_update(
            BookingWorkflow.refund, RefundOrder(1_000), id="admin"
        )

    assert getattr(refused.value.cause, "type", None) == PaymentProviderUnavailable.__name__
    assert down.seen == ATTEMPTS
    after = await view_of(stack.temporal, view.id)
    assert (after.status, after.refunds) == (BookingStatus.CONFIRMED, [])
    assert await still_running(stack.temporal, view.id)
    assert (
        await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == view.amount_total
    )


async def test_a_cancel_stripe_does_not_answer_is_refused_and_may_be_asked_again(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The cancel is refused (503), the booking stays CONFIRMED with its places sold; the same
    cancel asked again through the API's path (which takes a new update id once one was given
    up, where Temporal would answer the old one's refusal) is carried out once Stripe answers."""
    down = Down(ATTEMPTS)
    settings = await own_worker(refunds_down(PaymentActivities(stack.stripe_client), down))
    settings = settings.model_copy(update={"cancel_wait_seconds": 30})
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=2)
    )

    with pytest.raises(PaymentProviderUnavailable):
        await change_within(stack.temporal, settings, view.id, CancelRequest(), "CONFIRMED")

    assert down.seen == ATTEMPTS
    assert (await view_of(stack.temporal, view.id)).status == BookingStatus.CONFIRMED
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 1}
    assert await still_running(stack.temporal, view.id)

    again = await change_within(stack.temporal, settings, view.id, CancelRequest(), "CONFIRMED")
    assert again is not None and again.status == BookingStatus.REFUNDED
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await keep_history(stack.temporal, view.id, "bounds-cancel_unanswered_then_asked_again")


async def unsold_at_stripe(
    temporal: Client,
    settings: Settings,
    db: Db,
    stripe_client: stripe.StripeClient,
    session_id: str,
) -> BookingView:
    """A booking paid after its session was cancelled: it cannot be confirmed."""
    view = await start_booking_workflow(temporal, settings, booking_request(session_id))
    await session_row_cancelled(db, session_id)
    assert view.payment_intent_id is not None
    assert await pay(stripe_client, view.payment_intent_id) == "succeeded"
    await tell(temporal, view, PaymentEventType.SUCCEEDED)
    return view


async def test_money_that_cannot_be_refunded_for_an_unsold_booking_is_left_to_the_safety_net(
    stack: Stack, quick: Settings, own_worker: OwnWorker
) -> None:
    """CANCELLED, places free, the workflow completes; the safety net refunds the payment
    (its own refund at the bound is reported, and the next run makes it)."""
    down = Down()
    settings = await own_worker(refunds_down(PaymentActivities(stack.stripe_client), down))
    session_id = await stack.new_session(capacity=2)
    view = await unsold_at_stripe(
        stack.temporal, settings, stack.db, stack.stripe_client, session_id
    )

    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 40)

    assert ended.status == BookingStatus.CANCELLED
    assert ended.status_reason is not None
    assert ended.status_reason.endswith("refund left to the safety net")
    assert down.seen == ATTEMPTS
    assert await places_of(stack.db, view.id) == {}
    # The safety net's own refund at its bound: reported, and the run completes.
    down_again = await run_safety_net(stack.temporal, settings)
    assert view.payment_intent_id in down_again.failed
    assert down.calls.count(view.payment_intent_id) == ATTEMPTS + SAFETY_NET_ATTEMPTS
    report = await run_safety_net(stack.temporal, quick)  # Stripe answers there
    assert view.payment_intent_id in report.refunded
    # The run hands its refund to the booking's recorder (signal-with-start) and ends: the
    # books are read once that has recorded it.
    await stack.temporal.get_workflow_handle(stripe_refunds_workflow_id(view.id)).result()
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await keep_history(stack.temporal, view.id, "bounds-unsold_refund_left_to_the_safety_net")


async def test_a_refund_made_at_stripe_in_the_late_payment_window_is_recorded(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The unsold booking's money, refunded in the dashboard while the booking waits for late
    payments: its `charge.refunded` is read, and the books match Stripe."""
    settings = await own_worker(
        refunds_down(PaymentActivities(stack.stripe_client), Down()), late_payment_window_seconds=30
    )
    view = await unsold_at_stripe(
        stack.temporal, settings, stack.db, stack.stripe_client, await stack.new_session(capacity=2)
    )
    await wait_for_status(stack.temporal, view.id, BookingStatus.CANCELLED, within=20)
    assert view.payment_intent_id is not None
    await stack.stripe_client.v1.refunds.create_async({"payment_intent": view.payment_intent_id})
    await tell(stack.temporal, view, PaymentEventType.REFUNDED)

    await settled(stack.temporal, view.id)

    after = await view_of(stack.temporal, view.id)
    assert [(r.amount, r.source) for r in after.refunds] == [
        (view.amount_total, RefundSource.STRIPE)
    ]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await keep_history(
        stack.temporal, view.id, "bounds-refunded_at_stripe_while_waiting_late_money"
    )


async def test_a_late_payment_stripe_does_not_answer_about_ends_the_workflow(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The intent cannot be cancelled, at the hold's end nor after: EXPIRED, places free, and
    the workflow completes (a payment Stripe takes later is the safety net's)."""
    down = Down()
    settings = await own_worker(cancels_down(down), payment_grace_seconds=1)
    session_id = await stack.new_session(capacity=2, hold_seconds=1)
    view = await start_booking_workflow(stack.temporal, settings, booking_request(session_id))

    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 30)

    assert ended.status == BookingStatus.EXPIRED
    assert down.seen > ATTEMPTS  # the grace's attempts, then the step's
    assert await places_of(stack.db, view.id) == {}
    await keep_history(stack.temporal, view.id, "bounds-late_payment_unanswered")


async def test_refunds_stripe_does_not_answer_about_are_skipped_until_the_next_event(
    stack: Stack, own_worker: OwnWorker
) -> None:
    down = Down()
    settings = await own_worker(refund_lists_down(down))
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=2)
    )

    await tell(stack.temporal, view, PaymentEventType.REFUNDED)
    await settled(stack.temporal, view.id)

    assert down.seen == ATTEMPTS
    assert (await view_of(stack.temporal, view.id)).status == BookingStatus.CONFIRMED
    assert await still_running(stack.temporal, view.id)


async def test_a_late_payment_event_stripe_does_not_answer_about_ends_the_workflow(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """An unsold booking closed with its refund left to the safety net; another `succeeded`
    comes in the late-payment window and the intent cannot be read (a local activity): the
    workflow completes as the booking ended."""
    real = PaymentActivities(stack.stripe_client)
    reads = Down()

    @activity.defn(name="get_payment_intent")
    async def read_once(payment_intent_id: str) -> PaymentIntentInfo:
        if reads.fails(payment_intent_id) and reads.seen > 1:
            raise unanswered()
        return await real.get_intent(payment_intent_id)

    settings = await own_worker(
        refunds_down(real, Down()), read_once, late_payment_window_seconds=30
    )
    view = await unsold_at_stripe(
        stack.temporal, settings, stack.db, stack.stripe_client, await stack.new_session(capacity=2)
    )
    await wait_for_status(stack.temporal, view.id, BookingStatus.CANCELLED, within=20)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)

    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 40)

    assert ended.status == BookingStatus.CANCELLED
    assert reads.seen == 1 + ATTEMPTS
