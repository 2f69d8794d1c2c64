"""The booking workflow when Stripe or the session change under it (issue 9): each fault is
forced by replacing one activity by name on a worker of the test's own; all else is real."""

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError

from activities.inventory import InventoryActivities
from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities
from clients.booking_workflows import start_booking_workflow
from core.enums import BookingStatus, SeatState
from core.errors import ServiceUnavailable, SoldOut
from devstack.pay import pay
from messages.booking import BookingView, CancelRequest, booking_workflow_id
from messages.payments import CreatePaymentIntent, PaymentEvent, PaymentEventType, PaymentIntentInfo
from models.tables import Booking
from tests.helpers.activity_bookings import seat_states
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    book,
    booking_request,
    mirror_of,
    session_row_cancelled,
    stripe_agrees,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow

Db = async_sessionmaker[AsyncSession]


async def until_status(db: Db, booking_id: str, status: BookingStatus, within: float) -> Booking:
    return await eventually(
        lambda: mirror_of(db, booking_id),
        lambda row: row.status == status,
        within=within,
        what=f"booking {booking_id} {status}",
    )


async def test_a_failed_setup_leaves_nothing_and_its_retry_cannot_oversell(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Case 1: Stripe unreachable while the PaymentIntent is created, then the client retries."""

    @activity.defn(name="open_payment")
    async def stripe_unreachable(request: CreatePaymentIntent) -> PaymentIntentInfo:
        raise ConnectionError("Stripe unreachable")

    session_id = await stack.new_session(capacity=3)
    first = booking_request(session_id, 2)
    faulty = await own_worker(stripe_unreachable)
    with pytest.raises(ServiceUnavailable):
        await start_booking_workflow(stack.temporal, faulty, first)
    async with stack.db() as s:
        assert await s.get(Booking, uuid.UUID(first.booking_id)) is None
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 3}

    await book(stack.temporal, stack.settings, session_id, 2)  # PENDING_PAYMENT, 2 held
    with pytest.raises(SoldOut):  # 1 place left: the retry gets no phantom places
        await start_booking_workflow(stack.temporal, stack.settings, first)
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 1, SeatState.HELD: 2}
    await keep_history(
        stack.temporal, first.booking_id, "one-step-payment-setup_failed_then_sold_out"
    )


@dataclass
class Outage:
    """Stripe down for one activity until `clear()`; `refused` counts the calls it failed, so a
    test can tell its step did run while Stripe was down."""

    down: bool = True
    refused: int = 0

    def clear(self) -> None:
        self.down = False


StripeDown = Callable[[str], tuple[Callable[..., Any], Outage]]


@pytest.fixture
def stripe_down(stripe_client: stripe.StripeClient) -> StripeDown:
    """A stand-in for one Stripe activity by name (a PaymentIntent id in, its info out) that
    fails while the returned outage lasts (Stripe down), then does the real thing."""
    real = PaymentActivities(stripe_client)
    methods = {"cancel_payment_intent": real.cancel_intent, "get_payment_intent": real.get_intent}

    def make(name: str) -> tuple[Callable[..., Any], Outage]:
        outage = Outage()

        @activity.defn(name=name)
        async def while_down(payment_intent_id: str) -> PaymentIntentInfo:
            if outage.down:
                outage.refused += 1
                raise ConnectionError("Stripe unreachable")
            return await methods[name](payment_intent_id)

        return while_down, outage

    return make


async def test_the_hold_ends_on_time_while_stripe_is_down_and_late_money_is_refunded(
    stack: Stack, own_worker: OwnWorker, stripe_down: StripeDown
) -> None:
    """Case 4: the cancellation at expiry cannot reach Stripe; the customer pays meanwhile."""
    cancel_while_down, outage = stripe_down("cancel_payment_intent")
    session_id = await stack.new_session(capacity=4, hold_seconds=1)
    faulty = await own_worker(cancel_while_down, payment_grace_seconds=2)
    view = await start_booking_workflow(stack.temporal, faulty, booking_request(session_id, 2))
    expired = await until_status(stack.db, view.id, BookingStatus.EXPIRED, within=8)
    ended_after = (expired.updated_at - view.hold_expires_at).total_seconds()
    assert ended_after < 5, f"places held {ended_after:.1f} s past the hold's end"
    assert expired.status_reason == "the hold ended; Stripe did not answer"
    assert outage.refused > 0  # the hold's end did ask Stripe, while it was down
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 4}

    assert view.payment_intent_id is not None
    assert await pay(stack.stripe_client, view.payment_intent_id) == "succeeded"
    outage.clear()
    row = await eventually(
        lambda: mirror_of(stack.db, view.id),
        lambda row: row.status_reason == "a late payment was refunded",
        within=30,
        what="the late payment refunded",
    )
    assert row.status == BookingStatus.EXPIRED
    assert row.status_reason == "a late payment was refunded"
    refunds = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": view.payment_intent_id}
    )
    assert [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data] == [
        (15000, "late-payment")
    ]
    await keep_history(stack.temporal, view.id, "expired_while_stripe_down_then_late_refund")


async def test_a_cancel_while_stripe_is_down_answers_within_the_grace(
    stack: Stack, own_worker: OwnWorker, stripe_down: StripeDown
) -> None:
    """Case 4, through a cancel: the places go back and the intent is cancelled once Stripe is."""
    cancel_while_down, outage = stripe_down("cancel_payment_intent")
    session_id = await stack.new_session(capacity=4)
    faulty = await own_worker(cancel_while_down, payment_grace_seconds=2)
    view = await start_booking_workflow(stack.temporal, faulty, booking_request(session_id, 2))
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(view.id))
    cancelled = await asyncio.wait_for(
        handle.execute_update(BookingWorkflow.cancel, CancelRequest("changed my mind")), 10
    )
    assert cancelled.status == BookingStatus.CANCELLED
    assert outage.refused > 0  # the cancel did ask Stripe, while it was down
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 4}
    outage.clear()
    assert view.payment_intent_id is not None
    intent_id = view.payment_intent_id
    await eventually(
        lambda: stack.stripe_client.v1.payment_intents.retrieve_async(intent_id),
        lambda intent: intent.status == "canceled",
        within=30,
        what="the intent cancelled",
    )


async def test_a_cancel_reaches_a_booking_still_being_set_up(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Case 5: the session is cancelled while the PaymentIntent is being created. The step is
    held until the workflow has accepted the cancel (a local activity runs inside a workflow
    task: the cancel is delivered at the task's heartbeat, about 8 s on), and the history
    shows the cancel accepted before the step completed."""
    creating = asyncio.Event()
    may_finish = asyncio.Event()
    real = PaymentSetupActivities(
        PaymentActivities(stack.stripe_client),
        InventoryActivities(stack.db),
    )

    @activity.defn(name="open_payment")
    async def slow_create(request: CreatePaymentIntent) -> PaymentIntentInfo:
        creating.set()
        await may_finish.wait()
        return await real.open_payment(request)

    session_id = await stack.new_session(capacity=4)
    request = booking_request(session_id, 2)
    faulty = await own_worker(slow_create)
    started = asyncio.create_task(start_booking_workflow(stack.temporal, faulty, request))
    await asyncio.wait_for(creating.wait(), 10)
    await session_row_cancelled(stack.db, session_id)  # what cancelling the session does first
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(request.booking_id))
    try:
        cancel = await asyncio.wait_for(
            handle.start_update(
                BookingWorkflow.cancel,
                CancelRequest("the session was cancelled", session_cancelled=True),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            ),
            30,
        )
    finally:
        may_finish.set()
    held: BookingView = await started
    ended: BookingView = await asyncio.wait_for(cancel.result(), 10)

    events = await history_of(stack.temporal, request.booking_id)
    accepted = first(events, lambda e: accepted_update(e) == "cancel")
    assert accepted < first(events, lambda e: local_activity(e) == "open_payment")
    assert held.status == BookingStatus.PENDING_PAYMENT
    assert ended.status == BookingStatus.CANCELLED
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 4}
    assert held.payment_intent_id is not None
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(held.payment_intent_id)
    assert intent.status == "canceled"
    await keep_history(
        stack.temporal, request.booking_id, "one-step-payment-cancelled_during_setup"
    )


async def history_of(temporal: Client, booking_id: str) -> list[HistoryEvent]:
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    return list((await handle.fetch_history()).events)


def accepted_update(event: HistoryEvent) -> str | None:
    """The name of the update this event accepted, if it accepted one."""
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return None
    accepted = event.workflow_execution_update_accepted_event_attributes
    return str(accepted.accepted_request.input.name)


def local_activity(event: HistoryEvent) -> str | None:
    """The activity type of the local activity whose result this marker records."""
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    data = event.marker_recorded_event_attributes.details.get("data")
    if data is None or not data.payloads:
        return None
    return str(json.loads(data.payloads[0].data).get("activity_type"))


def first(events: list[HistoryEvent], match: Callable[[HistoryEvent], bool]) -> int:
    """The event id of the first event that matches; fails the test if none does."""
    found = [event.event_id for event in events if match(event)]
    assert found, "no such event in the history"
    return found[0]


async def test_money_for_a_cancelled_session_is_refunded_not_confirmed(stack: Stack) -> None:
    """Case 5's root: confirming checks the session; paying a cancelled one refunds."""
    session_id = await stack.new_session(capacity=4)
    view = await book(stack.temporal, stack.settings, session_id, 2)
    await session_row_cancelled(stack.db, session_id)
    assert view.payment_intent_id is not None
    assert await pay(stack.stripe_client, view.payment_intent_id) == "succeeded"  # webhook follows

    refunded = await until_status(stack.db, view.id, BookingStatus.REFUNDED, within=15)

    assert refunded.reference is None and refunded.status_reason is not None
    assert "cancelled" in refunded.status_reason
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 4}
    refunds = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": view.payment_intent_id}
    )
    assert [r.to_dict()["metadata"]["reason"] for r in refunds.data] == ["not-confirmable"]
    await stripe_agrees(stack, view.id, 0)
    await keep_history(stack.temporal, view.id, "paid_for_cancelled_session_refunded")


async def test_a_cancel_reason_postgresql_would_refuse_is_refused_first(stack: Stack) -> None:
    """Case 2: a NUL byte in the reason would make recording the outcome fail forever."""
    session_id = await stack.new_session(capacity=4)
    view = await book(stack.temporal, stack.settings, session_id, 2)
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(view.id))

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.cancel, CancelRequest("bad\x00reason"))

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "InvalidRequest"
    row = await mirror_of(stack.db, view.id)
    assert row is not None and row.status == BookingStatus.PENDING_PAYMENT
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 2, SeatState.HELD: 2}
    repeated = await handle.execute_update(BookingWorkflow.cancel, CancelRequest())
    again = await handle.execute_update(BookingWorkflow.cancel, CancelRequest())
    assert repeated.status == again.status == BookingStatus.CANCELLED


async def test_a_payment_event_stripe_cannot_be_asked_about_still_ends_the_hold(
    stack: Stack, own_worker: OwnWorker, stripe_down: StripeDown
) -> None:
    """Case 4, through the read an event triggers (a local activity: its retries are bounded
    by attempts, since temporalio ignores their schedule-to-close timeout)."""
    read_while_down, outage = stripe_down("get_payment_intent")
    faulty = await own_worker(read_while_down, payment_grace_seconds=1)
    session_id = await stack.new_session(capacity=4, hold_seconds=1)
    view = await start_booking_workflow(stack.temporal, faulty, booking_request(session_id, 2))
    event = PaymentEvent(
        "evt_unreadable", PaymentEventType.SUCCEEDED, view.payment_intent_id or "", 0
    )
    await stack.temporal.get_workflow_handle(booking_workflow_id(view.id)).signal(
        BookingWorkflow.payment_event, event
    )
    try:
        expired = await until_status(stack.db, view.id, BookingStatus.EXPIRED, within=8)
    finally:
        outage.clear()  # lets the worker stop
    assert await seat_states(stack.db, session_id) == {SeatState.FREE: 4}
    assert expired.status_reason == "the hold ended before payment"
