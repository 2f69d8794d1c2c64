"""Free bookings through the workflow's own messages: the sale refused when the session is
cancelled between the hold and the sale (forced), and an organiser's cancellation."""

import asyncio
import uuid

import pytest
from temporalio import activity

from clients.booking_workflows import cancel_booking_workflow, start_booking_workflow
from core.enums import BookingStatus, EmailKind
from core.errors import SessionNotBookable
from core.settings import Settings
from messages.booking import CancelRequest, Confirmation
from models.tables import Booking
from tests.helpers.emails import emails_at_rest
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    booking_request,
    handle_of,
    places_of,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker


async def test_a_free_sale_refused_by_a_cancelled_session_leaves_nothing(
    stack: Stack, own_worker: OwnWorker
) -> None:
    @activity.defn(name="confirm_sale")
    async def session_cancelled_meanwhile(booking_id: str) -> Confirmation:
        raise SessionNotBookable("the session was cancelled")

    session_id = await stack.new_session(capacity=3, price_amount=0)
    request = booking_request(session_id, 2)
    faulty = await own_worker(session_cancelled_meanwhile)

    with pytest.raises(SessionNotBookable, match="the session was cancelled"):
        await start_booking_workflow(stack.temporal, faulty, request)

    async with stack.db() as s:
        assert await s.get(Booking, uuid.UUID(request.booking_id)) is None
    assert await places_of(stack.db, request.booking_id) == {}
    await keep_history(stack.temporal, request.booking_id, "free-bookings-sale_refused")


async def test_an_organiser_cancelling_a_free_booking_refunds_nothing(
    stack: Stack, quick: Settings
) -> None:
    session_id = await stack.new_session(capacity=3, price_amount=0)
    view = await start_booking_workflow(stack.temporal, quick, booking_request(session_id, 3))
    assert (view.status, view.payment_intent_id, view.client_secret) == (
        BookingStatus.CONFIRMED,
        None,
        None,
    )

    cancelled = await cancel_booking_workflow(
        stack.temporal,
        view.id,
        CancelRequest("the trainer is ill", session_cancelled=True),
        view.status,
    )

    assert (cancelled.status, cancelled.refund_ids) == (BookingStatus.CANCELLED, [])
    assert await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 10) == cancelled
    assert await emails_at_rest(stack.sendgrid, stack.temporal, view.id, within=10) == [
        EmailKind.CONFIRMATION,
        EmailKind.SESSION_CANCELLED,
    ]
    await assert_consistent(stack.db, cancelled)
