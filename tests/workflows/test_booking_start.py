"""The booking workflow's setup: places held and a PaymentIntent made, or the request refused."""

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from clients.booking_workflows import cancel_booking_workflow, start_booking_workflow, timings
from core.enums import BookingStatus, SeatState
from core.errors import (
    BookingNotCancellable,
    IdempotencyKeyReused,
    InvalidRequest,
    ServiceUnavailable,
    SessionNotFound,
    SoldOut,
)
from core.settings import Settings
from messages import search_attributes as sa
from messages.booking import BookingWorkflowInput, CancelRequest
from messages.payments import CreatePaymentIntent, PaymentIntentInfo
from models.tables import Booking
from tests.conftest import SessionFactory
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    booking_request,
    handle_of,
    places_of,
)
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow


async def failure_type(temporal: Client, booking_id: str) -> str | None:
    """The type of the business error the booking's workflow failed with."""
    handle = handle_of(temporal, booking_id)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    return cause.type


async def test_held_places_and_a_payment_intent_answer_the_caller(
    stack: Stack, quick: Settings
) -> None:
    session_id = await stack.new_session(capacity=12)
    request = booking_request(session_id, quantity=5)
    view = await start_booking_workflow(stack.temporal, quick, request)

    assert (view.id, view.session_id, view.status) == (
        request.booking_id,
        session_id,
        BookingStatus.PENDING_PAYMENT,
    )
    assert (view.amount_subtotal, view.discount, view.amount_total, view.currency) == (
        37_500,
        3_750,
        33_750,
        "GBP",
    )
    assert view.payment_intent_id and view.client_secret
    assert view.client_secret.startswith(view.payment_intent_id)
    assert len(view.seat_labels) == 5 and view.reference is None
    await assert_consistent(stack.db, view)

    # The same request again is answered with the same booking; another body is refused.
    again = await start_booking_workflow(stack.temporal, quick, request)
    assert again == view
    other_body = booking_request(session_id, quantity=5)
    other_body.booking_id = request.booking_id
    with pytest.raises(IdempotencyKeyReused):
        await start_booking_workflow(stack.temporal, quick, other_body)
    assert await places_of(stack.db, view.id) == {SeatState.HELD: 5}


async def test_refused_requests_fail_the_workflow_and_hold_answers_the_error(
    stack: Stack, quick: Settings
) -> None:
    session_id = await stack.new_session(capacity=2)
    first = await start_booking_workflow(stack.temporal, quick, booking_request(session_id, 2))
    sold_out = booking_request(session_id, 1)
    unknown = booking_request(str(uuid.uuid4()))
    not_a_uuid = booking_request("not-a-session")
    too_many = booking_request(session_id, 0)

    for request, error in [
        (sold_out, SoldOut),
        (unknown, SessionNotFound),
        (not_a_uuid, SessionNotFound),
        (too_many, InvalidRequest),
    ]:
        with pytest.raises(error):
            await start_booking_workflow(stack.temporal, quick, request)
        assert await failure_type(stack.temporal, request.booking_id) == error.__name__
        async with stack.db() as s:
            assert await s.get(Booking, uuid.UUID(request.booking_id)) is None
    assert await places_of(stack.db, first.id) == {SeatState.HELD: 2}

    # A rejected booking cannot be cancelled; the failed workflow lets the same key try again.
    with pytest.raises(BookingNotCancellable):
        await cancel_booking_workflow(
            stack.temporal, sold_out.booking_id, CancelRequest(), "REJECTED"
        )
    await cancel_booking_workflow(stack.temporal, first.id, CancelRequest(), first.status)
    retried = await start_booking_workflow(stack.temporal, quick, sold_out)
    assert retried.id == sold_out.booking_id and retried.status == BookingStatus.PENDING_PAYMENT
    await assert_consistent(stack.db, retried)


async def test_a_payment_intent_that_cannot_be_made_frees_the_places(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Stripe unreachable during setup: the caller hears ServiceUnavailable after the retries,
    and a cancel that came meanwhile hears that the booking cannot be cancelled."""
    creating = asyncio.Event()
    cancel_sent = asyncio.Event()

    @activity.defn(name="open_payment")
    async def stripe_unreachable(request: CreatePaymentIntent) -> PaymentIntentInfo:
        creating.set()
        await cancel_sent.wait()
        raise ConnectionError("Stripe is unreachable")

    settings = await own_worker(stripe_unreachable)
    session_id = await stack.new_session(capacity=3)
    request = booking_request(session_id, 2)
    started = asyncio.create_task(start_booking_workflow(stack.temporal, settings, request))
    await asyncio.wait_for(creating.wait(), 10)
    assert await places_of(stack.db, request.booking_id) == {SeatState.HELD: 2}
    cancel = asyncio.create_task(
        cancel_booking_workflow(
            stack.temporal, request.booking_id, CancelRequest(), "PENDING_PAYMENT"
        )
    )
    await asyncio.sleep(0.2)  # the cancel is accepted while the setup is still under way
    cancel_sent.set()

    with pytest.raises(ServiceUnavailable):
        await started
    with pytest.raises(BookingNotCancellable):  # "never set up", or gone if it came too late
        await cancel
    assert await failure_type(stack.temporal, request.booking_id) == "ServiceUnavailable"
    assert await places_of(stack.db, request.booking_id) == {}


async def test_a_rejection_nobody_asked_about_fails_after_waiting_for_the_caller(
    temporal: Client, quick: Settings, new_session: SessionFactory
) -> None:
    """Started without its `hold` update, a refused booking waits HOLD_ANSWER_WAIT, then fails."""
    request = booking_request(await new_session(capacity=1), quantity=2)
    handle = await temporal.start_workflow(
        BookingWorkflow.run,
        BookingWorkflowInput(request, timings(quick)),
        id=handle_of(temporal, request.booking_id).id,
        task_queue=quick.task_queue,
    )
    await eventually(  # what operators see once the places were refused
        handle.describe,
        lambda d: d.typed_search_attributes.get(sa.BOOKING_STATUS) == BookingStatus.REJECTED,
        within=5,
        every=0.05,
        what="REJECTED in visibility",
    )
    assert await handle.query(BookingWorkflow.view) is None
    with pytest.raises(BookingNotCancellable, match="REJECTED"):
        await cancel_booking_workflow(temporal, request.booking_id, CancelRequest(), "REJECTED")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert await asyncio.wait_for(failure_type(temporal, request.booking_id), 15) == "SoldOut"
