"""The session's cancellation against a customer's cancel of the same booking, at each moment
the two can meet: the customer's refund in flight, queued, closed, or closing after the session
was cancelled. Whatever the order, the booking ends REFUNDED in full and Stripe agrees."""

import asyncio

from temporalio import activity

from activities.payments import PaymentActivities
from clients.session_cancellation import start_session_cancellation
from core.enums import BookingStatus, DeliveryOutcome, EmailKind, RefundSource
from messages.booking import (
    CANCEL_UPDATE_ID,
    SESSION_CANCEL_UPDATE_ID,
    CancelRequest,
    EmailOutcome,
    EmailRequest,
)
from messages.sessions import BookingToCancel
from tests.helpers.held_refunds import (
    HALF_EACH,
    NEVER,
    SESSION_CANCEL,
    Gate,
    customer_cancel,
    entered,
    held_order,
    refunded_in_full,
    session_cancel,
    sources,
    two_places,
)
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_books_match_stripe,
    handle_of,
    places_of,
    stripe_agrees,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow
from workflows.session_cancellation import SessionCancellationWorkflow


async def test_the_session_cancellation_outranks_a_customer_cancel_in_flight(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The customer's cancel (half back) is refunding when the organiser cancels the session:
    the session's cancellation refunds the other half; its email is the session's."""
    gate = Gate(PaymentActivities(stack.stripe_client))
    _, _, handle = await two_places(stack, await own_worker(gate.activity))

    customer = await entered(gate, customer_cancel(handle))
    session = await session_cancel(handle)
    gate.open.set()
    ended, by_session = await customer, await session.result()

    assert ended == by_session
    await refunded_in_full(
        stack, ended, HALF_EACH, "money-session_cancel_outranks_a_cancel_in_flight"
    )


async def test_the_session_cancellation_upgrades_a_customer_cancel_still_queued(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """A customer's cancel under a policy that refunds nothing waits behind an admin's refund;
    the session's cancellation comes: the customer's cancel becomes a full refund."""
    held = await held_order(stack, own_worker, policy=NEVER)
    customer = await held.ask(BookingWorkflow.cancel, CancelRequest(), CANCEL_UPDATE_ID)
    session = await held.ask(BookingWorkflow.cancel, SESSION_CANCEL, SESSION_CANCEL_UPDATE_ID)
    await held.release()
    ended = await customer.result()

    assert ended == await session.result()
    await refunded_in_full(
        stack,
        ended,
        [(1_000, RefundSource.ADMIN), (14_000, RefundSource.SESSION_CANCELLED)],
        "money-session_cancel_upgrades_a_queued_cancel",
    )


async def test_the_session_cancellation_after_a_customer_cancel_closed_refunds_the_rest(
    stack: Stack, own_worker: OwnWorker
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

    _, view, handle = await two_places(stack, await own_worker(held_cancel_email))

    by_customer = await customer_cancel(handle)
    assert by_customer.status == BookingStatus.CANCELLED
    session = await session_cancel(handle)
    accepted.set()
    by_session = await session.result()

    assert by_session.status == BookingStatus.REFUNDED
    assert sources(by_session) == HALF_EACH
    assert (await asyncio.wait_for(handle.result(), 15)).status == BookingStatus.REFUNDED
    assert emails[1:] == [EmailKind.CANCELLED, EmailKind.SESSION_CANCELLED]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 0
    await keep_history(stack.temporal, view.id, "money-session_cancel_after_a_cancel_closed")


async def test_a_customer_cancel_closing_after_the_session_was_cancelled_refunds_in_full(
    stack: Stack, own_worker: OwnWorker
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
    session_id, view, handle = await two_places(stack, settings)

    customer = await entered(gate, customer_cancel(handle))
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
    assert sources(ended) == HALF_EACH
    assert await places_of(stack.db, view.id) == {}
    await stripe_agrees(stack, view.id, 0)
    await keep_history(
        stack.temporal, view.id, "money-customer_close_after_the_session_was_cancelled"
    )
