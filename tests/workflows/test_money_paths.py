"""The money paths of a confirmed booking, each forced: refunds made at Stripe read back before
the booking refunds, refunds Stripe refuses, the session's cancellation against a customer's,
and the refund policy of the moment a cancel was accepted. After each, what Stripe holds (paid
less refunded) is what the booking says remains."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)

from activities.payments import PaymentActivities
from clients.session_cancellation import start_session_cancellation
from core.enums import BookingStatus, DeliveryOutcome, EmailKind, RefundSource, SeatState
from core.errors import PaymentProviderRefused
from core.settings import Settings
from messages.booking import (
    CANCEL_UPDATE_ID,
    SESSION_CANCEL_UPDATE_ID,
    BookingView,
    CancelRequest,
    EmailOutcome,
    EmailRequest,
    PlacesCancellation,
    RefundOrder,
)
from messages.payments import RefundInfo, RefundRequest
from messages.sessions import BookingToCancel
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_books_match_stripe,
    book,
    handle_of,
    ledger_of,
    pay_and_tell,
    places_of,
    price_session,
    stripe_echoes_its_refunds,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow
from workflows.session_cancellation import SessionCancellationWorkflow

HALF_UNTIL_THE_START = [{"days_before": 0, "percent": 50}]
NEVER = list[dict[str, int]]()
# Long enough to queue an order behind a held refund before the session starts.
STARTS_IN = timedelta(seconds=10)


class Gate:
    """Stripe's refunds held until the test opens the gate (the first `held` of them)."""

    def __init__(self, real: PaymentActivities, held: int = 1) -> None:
        self.entered = asyncio.Event()
        self.open = asyncio.Event()
        self.requests: list[RefundRequest] = []
        self._real, self._held = real, held

        @activity.defn(name="refund_payment")
        async def slow_refund(request: RefundRequest) -> RefundInfo:
            self.requests.append(request)
            if len(self.requests) <= self._held:
                self.entered.set()
                await self.open.wait()
            return await self._real.refund(request)

        self.activity = slow_refund


@dataclass
class HeldOrder:
    """A confirmed booking of 2 places whose admin refund of 1,000 is held at Stripe (`Gate`):
    whatever is asked of the booking meanwhile queues behind it."""

    gate: Gate
    view: BookingView
    handle: WorkflowHandle[Any, Any]
    order: asyncio.Task[BookingView]

    async def ask(self, update: Any, arg: Any, update_id: str) -> WorkflowUpdateHandle[BookingView]:
        """Another update, accepted while the refund is held."""
        return await self.handle.start_update(
            update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )

    async def release(self) -> None:
        """Stripe answers: the held refund is carried out, then what queued behind it."""
        self.gate.open.set()
        await self.order


async def held_order(
    stack: Stack,
    own_worker: OwnWorker,
    policy: list[dict[str, int]] | None = None,
    starts_in: timedelta | None = None,
) -> HeldOrder:
    gate = Gate(PaymentActivities(stack.stripe_client))
    settings = await own_worker(gate.activity)
    starts = {"starts_in": starts_in} if starts_in else {}
    session_id = await stack.new_session(capacity=4, **starts)
    if policy is not None:
        await price_session(stack.db, session_id, policy=policy)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    handle = handle_of(stack.temporal, view.id)
    order = asyncio.create_task(
        handle.execute_update(BookingWorkflow.refund, RefundOrder(1_000), id="goodwill")
    )
    await asyncio.wait_for(gate.entered.wait(), 10)
    return HeldOrder(gate, view, handle, order)


async def past(starts_at: datetime) -> None:
    """Wait until the session has started (its policy then gives 0), having asked before it."""
    assert datetime.now(UTC) < starts_at, "the machine was too slow to ask before the start"
    await asyncio.sleep((starts_at - datetime.now(UTC)).total_seconds() + 0.5)
    assert datetime.now(UTC) > starts_at


def refusing(
    real: PaymentActivities, refuses: Callable[[RefundRequest], bool], seen: list[RefundRequest]
) -> Callable[[RefundRequest], Awaitable[RefundInfo]]:
    @activity.defn(name="refund_payment")
    async def refund(request: RefundRequest) -> RefundInfo:
        """Stripe refuses these refunds for good (say, the charge is disputed)."""
        seen.append(request)
        if refuses(request):
            raise PaymentProviderRefused("Stripe refused: the charge is disputed")
        return await real.refund(request)

    return refund


async def confirmed(
    temporal: Client,
    settings: Settings,
    stripe_client: stripe.StripeClient,
    session_id: str,
    quantity: int,
) -> BookingView:
    return await pay_and_tell(
        temporal, stripe_client, await book(temporal, settings, session_id, quantity)
    )


async def refund_in_dashboard(
    stripe_client: stripe.StripeClient, view: BookingView, amount: int
) -> None:
    """A refund made in Stripe's dashboard, whose `charge.refunded` has not come (yet)."""
    assert view.payment_intent_id is not None
    await stripe_client.v1.refunds.create_async(
        {"payment_intent": view.payment_intent_id, "amount": amount}
    )


def sources(view: BookingView) -> list[tuple[int, RefundSource]]:
    return [(refund.amount, refund.source) for refund in view.refunds]


async def test_a_refund_made_at_stripe_is_read_back_before_an_admin_refund(
    stack: Stack,
    quick: Settings,
) -> None:
    """A dashboard refund whose webhook has not come: the admin's order for what the booking
    last knew is refused (more than remains at Stripe), the rest is refunded exactly."""
    view = await confirmed(
        stack.temporal, quick, stack.stripe_client, await stack.new_session(capacity=4), 2
    )
    await refund_in_dashboard(stack.stripe_client, view, 5_000)
    handle = handle_of(stack.temporal, view.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.refund, RefundOrder(15_000), id="stale")
    assert getattr(refused.value.cause, "type", None) == "InvalidRequest"
    rest = await handle.execute_update(BookingWorkflow.refund, RefundOrder(10_000), id="rest")

    assert rest.status == BookingStatus.REFUNDED
    assert sources(rest) == [(5_000, RefundSource.STRIPE), (10_000, RefundSource.ADMIN)]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-read_back_before_an_admin_refund")


async def test_a_customer_cancel_refunds_only_what_remains_at_stripe(
    stack: Stack,
    quick: Settings,
) -> None:
    view = await confirmed(
        stack.temporal, quick, stack.stripe_client, await stack.new_session(capacity=4), 2
    )
    await refund_in_dashboard(stack.stripe_client, view, 5_000)

    ended = await handle_of(stack.temporal, view.id).execute_update(
        BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID
    )

    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == [(5_000, RefundSource.STRIPE), (10_000, RefundSource.CUSTOMER_POLICY)]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-cancel_refunds_what_remains_at_stripe")


async def test_a_cancel_whose_refund_stripe_refuses_ends_cancelled_not_failed(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """The customer's cancel stands (places released, CANCELLED); the refusal is the status
    reason and nothing is recorded as refunded: what was paid remains at Stripe."""
    seen: list[RefundRequest] = []
    settings = await own_worker(
        refusing(PaymentActivities(stack.stripe_client), lambda _: True, seen)
    )
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=4), 1
    )
    handle = handle_of(stack.temporal, view.id)

    ended = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID
    )

    assert ended.status == BookingStatus.CANCELLED
    assert ended.status_reason is not None and "the charge is disputed" in ended.status_reason
    assert (ended.refunds, len(seen)) == ([], 1)
    assert (await asyncio.wait_for(handle.result(), 15)).status == BookingStatus.CANCELLED
    assert await places_of(stack.db, view.id) == {}
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 7_500
    await keep_history(stack.temporal, view.id, "money-cancel_refund_refused")


async def test_a_places_refund_stripe_refuses_changes_nothing_and_uses_up_its_sequence(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    seen: list[RefundRequest] = []
    settings = await own_worker(
        refusing(PaymentActivities(stack.stripe_client), lambda _: len(seen) == 1, seen)
    )
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=4), 3
    )
    handle = handle_of(stack.temporal, view.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.cancel_places, PlacesCancellation(count=1), id="first"
        )
    assert getattr(refused.value.cause, "type", None) == "PaymentProviderRefused"
    unchanged = await handle.query(BookingWorkflow.view)
    assert unchanged is not None
    assert (unchanged.seat_labels, unchanged.amount_total) == (view.seat_labels, 22_500)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 3}
    assert await ledger_of(stack.db, view.id) == (0, [])

    again = await handle.execute_update(
        BookingWorkflow.cancel_places, PlacesCancellation(count=1), id="again"
    )

    assert [(r.sequence, r.amount) for r in seen] == [(1, 7_500), (2, 7_500)]
    assert [(r.sequence, r.amount) for r in again.refunds] == [(2, 7_500)]
    assert (len(again.seat_labels), again.amount_total) == (2, 15_000)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 2}
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 15_000
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-places_refund_refused_then_made")


async def test_the_session_cancellation_outranks_a_customer_cancel_in_flight(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """The customer's cancel (half back) is refunding when the organiser cancels the session:
    the session's cancellation refunds the other half; its email is the session's."""
    gate = Gate(PaymentActivities(stack.stripe_client))
    settings = await own_worker(gate.activity)
    session_id = await stack.new_session(capacity=4)
    await price_session(stack.db, session_id, policy=HALF_UNTIL_THE_START)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    handle = handle_of(stack.temporal, view.id)

    customer = asyncio.create_task(
        handle.execute_update(BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID)
    )
    await asyncio.wait_for(gate.entered.wait(), 10)
    session = await handle.start_update(
        BookingWorkflow.cancel,
        CancelRequest("the session is cancelled", session_cancelled=True),
        id=SESSION_CANCEL_UPDATE_ID,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    gate.open.set()
    ended, by_session = await customer, await session.result()

    assert ended == by_session
    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == [
        (7_500, RefundSource.CUSTOMER_POLICY),
        (7_500, RefundSource.SESSION_CANCELLED),
    ]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-session_cancel_outranks_a_cancel_in_flight")


async def test_the_session_cancellation_upgrades_a_customer_cancel_still_queued(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """A customer's cancel under a policy that refunds nothing waits behind an admin's refund;
    the session's cancellation comes: the customer's cancel becomes a full refund."""
    held = await held_order(stack, own_worker, policy=NEVER)
    view = held.view
    customer = await held.ask(BookingWorkflow.cancel, CancelRequest(), CANCEL_UPDATE_ID)
    session = await held.ask(
        BookingWorkflow.cancel,
        CancelRequest("the session is cancelled", session_cancelled=True),
        SESSION_CANCEL_UPDATE_ID,
    )
    await held.release()
    ended = await customer.result()

    assert ended == await session.result()
    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == [(1_000, RefundSource.ADMIN), (14_000, RefundSource.SESSION_CANCELLED)]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-session_cancel_upgrades_a_queued_cancel")


async def test_an_order_queued_before_a_cancel_is_carried_out_not_dropped(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """Found by the chaos test: an admin's refund queued behind another, answered "under way",
    was refused once a customer's cancel came after it. Orders go first, in their order: both
    refunds are made, then the cancel refunds half of what remains."""
    gate = Gate(PaymentActivities(stack.stripe_client))
    settings = await own_worker(gate.activity)
    session_id = await stack.new_session(capacity=4)
    await price_session(stack.db, session_id, policy=HALF_UNTIL_THE_START)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    handle = handle_of(stack.temporal, view.id)

    first = asyncio.create_task(
        handle.execute_update(BookingWorkflow.refund, RefundOrder(1_000), id="first")
    )
    await asyncio.wait_for(gate.entered.wait(), 10)
    queued = await handle.start_update(
        BookingWorkflow.refund,
        RefundOrder(2_000),
        id="queued",
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    customer = await handle.start_update(
        BookingWorkflow.cancel,
        CancelRequest(),
        id=CANCEL_UPDATE_ID,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    gate.open.set()
    await first
    assert (await queued.result()).status == BookingStatus.CONFIRMED
    ended = await customer.result()

    assert ended.status == BookingStatus.CANCELLED
    assert sources(ended) == [
        (1_000, RefundSource.ADMIN),
        (2_000, RefundSource.ADMIN),
        (6_000, RefundSource.CUSTOMER_POLICY),
    ]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 6_000
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)


async def test_the_policy_percent_is_the_one_in_force_when_the_cancel_was_accepted(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """Refunded in full until the start (the default policy): a cancel accepted before the
    start but carried out after it, behind a slow admin refund, still refunds in full."""
    starts_at = datetime.now(UTC) + STARTS_IN
    held = await held_order(stack, own_worker, starts_in=STARTS_IN)
    view = held.view
    cancel = await held.ask(BookingWorkflow.cancel, CancelRequest(), CANCEL_UPDATE_ID)
    await past(starts_at)
    await held.release()
    ended = await cancel.result()

    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == [(1_000, RefundSource.ADMIN), (14_000, RefundSource.CUSTOMER_POLICY)]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(stack.temporal, view.id, "money-policy_of_the_moment_accepted")


async def test_places_given_back_are_refunded_by_the_policy_of_the_moment_accepted(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """Places given back before the start, carried out after it (behind a slow admin refund):
    refunded in full as the default policy said when the order was accepted, not refused."""
    starts_at = datetime.now(UTC) + STARTS_IN
    held = await held_order(stack, own_worker, starts_in=STARTS_IN)
    view = held.view
    places = await held.ask(BookingWorkflow.cancel_places, PlacesCancellation(count=1), "one-place")
    await past(starts_at)
    await held.release()
    kept = await places.result()

    assert (kept.status, len(kept.seat_labels), kept.amount_total) == (
        BookingStatus.CONFIRMED,
        1,
        7_500,
    )
    assert sources(kept) == [(1_000, RefundSource.ADMIN), (7_500, RefundSource.PLACES)]
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 1}
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 6_500
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)


async def test_the_session_cancellation_after_a_customer_cancel_closed_refunds_the_rest(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """The customer's cancel (half back) has closed the booking CANCELLED and its email is on
    its way when the organiser cancels the session: the other half is refunded too, and the
    session's cancellation is answered REFUNDED (not the customer's outcome)."""
    accepted, emails = asyncio.Event(), list[EmailKind]()

    @activity.defn(name="send_email")
    async def held_cancel_email(request: EmailRequest) -> EmailOutcome:
        emails.append(request.kind)
        if request.kind == EmailKind.CANCELLED:
            await accepted.wait()
        return EmailOutcome(f"test-{request.kind}", DeliveryOutcome.SENT)

    settings = await own_worker(held_cancel_email)
    session_id = await stack.new_session(capacity=4)
    await price_session(stack.db, session_id, policy=HALF_UNTIL_THE_START)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    handle = handle_of(stack.temporal, view.id)

    by_customer = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID
    )
    assert by_customer.status == BookingStatus.CANCELLED
    session = await handle.start_update(
        BookingWorkflow.cancel,
        CancelRequest("the session is cancelled", session_cancelled=True),
        id=SESSION_CANCEL_UPDATE_ID,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    accepted.set()
    by_session = await session.result()

    assert by_session.status == BookingStatus.REFUNDED
    assert sources(by_session) == [
        (7_500, RefundSource.CUSTOMER_POLICY),
        (7_500, RefundSource.SESSION_CANCELLED),
    ]
    assert (await asyncio.wait_for(handle.result(), 15)).status == BookingStatus.REFUNDED
    assert emails[1:] == [EmailKind.CANCELLED, EmailKind.SESSION_CANCELLED]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await keep_history(stack.temporal, view.id, "money-session_cancel_after_a_cancel_closed")


async def test_a_customer_cancel_closing_after_the_session_was_cancelled_refunds_in_full(
    stack: Stack,
    own_worker: OwnWorker,
) -> None:
    """The customer's cancel (half back) is refunding when the organiser's cancellation commits
    (`stop_sales` names the booking: still CONFIRMED); the session's cancel reaches the booking
    only once its workflow has closed, too late to say anything. The customer's close is
    refused under the session row's lock, and the booking refunds the rest itself."""
    gate = Gate(PaymentActivities(stack.stripe_client))
    told_after_close: list[BookingStatus] = []

    @activity.defn(name="cancel_session_booking")
    async def cancel_once_closed(booking: BookingToCancel) -> BookingStatus:
        """The session's cancel held back until the booking's workflow has closed."""
        ended = await handle_of(stack.temporal, booking.booking_id).result()
        told_after_close.append(ended.status)
        return ended.status

    settings = await own_worker(gate.activity, cancel_once_closed)
    session_id = await stack.new_session(capacity=4)
    await price_session(stack.db, session_id, policy=HALF_UNTIL_THE_START)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    handle = handle_of(stack.temporal, view.id)

    customer = asyncio.create_task(
        handle.execute_update(BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID)
    )
    await asyncio.wait_for(gate.entered.wait(), 10)
    cancellation = await start_session_cancellation(stack.temporal, settings, session_id)

    async def sales_stopped() -> bool:  # the cancellation has named the booking
        return bool((await cancellation.query(SessionCancellationWorkflow.progress)).total)

    await eventually(sales_stopped, within=10, what="the session's sales stopped")
    gate.open.set()
    ended = await customer
    outcome = await asyncio.wait_for(cancellation.result(), 30)

    assert (outcome.total, outcome.outcomes) == (1, {BookingStatus.REFUNDED: 1})
    assert told_after_close == [BookingStatus.REFUNDED]
    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == [
        (7_500, RefundSource.CUSTOMER_POLICY),
        (7_500, RefundSource.SESSION_CANCELLED),
    ]
    assert await places_of(stack.db, view.id) == {}
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, view.id)
    await keep_history(
        stack.temporal, view.id, "money-customer_close_after_the_session_was_cancelled"
    )
