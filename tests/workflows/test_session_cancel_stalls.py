"""A session's cancellation whose cancel of a booking stalls: the worker running it dies, or the
booking's workflow gives the cancel up (Stripe did not answer within the step's bound). Either
way the booking may not be left CONFIRMED while the cancellation counts it done: a lost cancel
is retried within seconds, a refused one is listed as failed and a re-run finishes it."""

import asyncio
from collections.abc import Callable

from temporalio import activity
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.payments import PaymentActivities
from activities.sessions import SessionActivities
from activities.webhook_signals import DeliveryStarter
from clients.session_cancellation import start_session_cancellation
from core.enums import BookingStatus
from core.errors import PaymentProviderUnavailable
from core.settings import Settings
from messages.booking import SESSION_CANCEL_UPDATE_ID, booking_workflow_id
from messages.payments import RefundInfo, RefundRequest
from messages.sessions import BookingToCancel
from messages.webhooks import retry_timings
from tests.helpers.held_refunds import Gate, two_places
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import stripe_agrees
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow

CANCELLED_WITHIN = 30  # seconds: the old start-to-close bound alone was 2 minutes


def real_sessions(stack: Stack, settings: Settings) -> SessionActivities:
    starter = DeliveryStarter(
        stack.db, stack.temporal, settings.task_queue, retry_timings(settings)
    )
    return SessionActivities(stack.db, stack.temporal, starter)


async def events(handle: WorkflowHandle[object, object]) -> list[HistoryEvent]:
    return [event async for event in handle.fetch_history_events()]


def of_type(history: list[HistoryEvent], kind: int) -> list[HistoryEvent]:
    return [event for event in history if event.event_type == kind]


async def test_a_cancel_lost_with_its_worker_is_retried_within_seconds(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The first attempt of the booking's cancel never reports, as when the worker running it
    is SIGKILLed before it asked the booking: the heartbeat timeout notices it, and the next
    attempt, heartbeating while the booking's refund is held at Stripe, refunds the booking."""
    gate = Gate(PaymentActivities(stack.stripe_client))
    settings_box: list[Settings] = []
    attempts: list[int] = []

    @activity.defn(name="cancel_session_booking")
    async def lost_once(booking: BookingToCancel) -> BookingStatus:
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            await asyncio.Event().wait()  # a dead worker: no answer, no heartbeat
        return await real_sessions(stack, settings_box[0]).cancel_booking(booking)

    settings = await own_worker(gate.activity, lost_once)
    settings_box.append(settings)
    session_id, view, handle = await two_places(stack, settings)
    cancellation = await start_session_cancellation(stack.temporal, settings, session_id)

    await asyncio.wait_for(gate.entered.wait(), CANCELLED_WITHIN)

    async def heartbeat_seen() -> bool:  # the second attempt heartbeats while it waits
        pending = (await cancellation.describe()).raw_description.pending_activities
        return bool(pending) and pending[0].HasField("last_heartbeat_time")

    await eventually(heartbeat_seen, within=10, what="a heartbeat of the waiting cancel")
    gate.open.set()
    outcome = await asyncio.wait_for(cancellation.result(), CANCELLED_WITHIN)

    assert (outcome.outcomes, outcome.failed) == ({BookingStatus.REFUNDED: 1}, [])
    assert attempts == [1, 2]
    # The history shows the interleaving: attempt 2 started after attempt 1 timed out unheard.
    history = await events(cancellation)
    (scheduled,) = [
        event.event_id
        for event in of_type(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        if event.activity_task_scheduled_event_attributes.activity_type.name
        == "cancel_session_booking"
    ]
    (started,) = [
        event
        for event in of_type(history, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
        if event.activity_task_started_event_attributes.scheduled_event_id == scheduled
    ]
    assert started.activity_task_started_event_attributes.attempt == 2
    last_failure = started.activity_task_started_event_attributes.last_failure
    assert last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    ended = await handle.result()
    assert ended.status == BookingStatus.REFUNDED
    await stripe_agrees(stack, view.id, 0)


def stripe_down(real: PaymentActivities, down: Callable[[], bool]) -> object:
    @activity.defn(name="refund_payment")
    async def refund(request: RefundRequest) -> RefundInfo:
        """Stripe not answering past the step's bound, at once (the bound is minutes)."""
        if down():
            raise ApplicationError(
                "Stripe did not answer",
                type=PaymentProviderUnavailable.__name__,
                non_retryable=True,
            )
        return await real.refund(request)

    return refund


async def test_a_cancel_the_booking_gave_up_is_listed_failed_and_a_rerun_finishes_it(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The booking's workflow gives the session's cancel up (its refund unanswered, nothing
    moved: the booking stays CONFIRMED). The cancellation lists the booking as failed, not
    done; run again once Stripe answers, it refunds the booking."""
    down = [True]
    settings = await own_worker(
        stripe_down(PaymentActivities(stack.stripe_client), lambda: down[0])
    )
    session_id, view, handle = await two_places(stack, settings)

    first = await asyncio.wait_for(
        (await start_session_cancellation(stack.temporal, settings, session_id)).result(),
        CANCELLED_WITHIN,
    )

    still = await handle.query(BookingWorkflow.view)
    assert still is not None and still.status == BookingStatus.CONFIRMED
    assert first.outcomes == {}
    assert [failed.booking_id for failed in first.failed] == [view.id]
    # The booking's history: the session's cancel was accepted, then answered with a failure.
    booking = await events(stack.temporal.get_workflow_handle(booking_workflow_id(view.id)))
    accepted = of_type(booking, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    completed = of_type(booking, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
    assert SESSION_CANCEL_UPDATE_ID in [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for e in accepted
    ]
    (answer,) = [
        e.workflow_execution_update_completed_event_attributes
        for e in completed
        if e.workflow_execution_update_completed_event_attributes.meta.update_id
        == SESSION_CANCEL_UPDATE_ID
    ]
    assert answer.outcome.failure.application_failure_info.type == (
        PaymentProviderUnavailable.__name__
    )

    down[0] = False
    again = await asyncio.wait_for(
        (await start_session_cancellation(stack.temporal, settings, session_id)).result(),
        CANCELLED_WITHIN,
    )

    assert (again.outcomes, again.failed) == ({BookingStatus.REFUNDED: 1}, [])
    assert (await handle.result()).status == BookingStatus.REFUNDED
    await stripe_agrees(stack, view.id, 0)
