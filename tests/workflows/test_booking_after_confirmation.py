"""A confirmed booking until its session ends: reminded, refunded on cancel or at Stripe,
not cancellable once the session started, completed at its end."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from clients.booking_workflows import cancel_booking_workflow
from core.enums import BookingStatus, DocumentKind, EmailKind, SeatState
from core.errors import BookingNotCancellable
from core.settings import Settings
from messages.booking import CancelRequest
from messages.payments import PaymentEventType
from models.tables import Session
from tests.helpers.emails import emails_for
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_consistent,
    confirmed,
    documents_of,
    handle_of,
    places_of,
    refunds_of,
    stripe_agrees,
    tell,
    view_of,
)


async def test_cancelling_after_payment_refunds_with_a_credit_note(
    stack: Stack, quick: Settings
) -> None:
    paid = await confirmed(
        stack.temporal, quick, stack.stripe_client, await stack.new_session(capacity=12), 5
    )
    refunded = await cancel_booking_workflow(
        stack.temporal, paid.id, CancelRequest("moved"), paid.status
    )

    assert (refunded.status, refunded.status_reason) == (BookingStatus.REFUNDED, "moved")
    assert refunded.reference == paid.reference and len(refunded.refund_ids) == 1
    assert await refunds_of(stack.stripe_client, paid) == [(33_750, "customer-policy")]
    documents = await documents_of(stack.db, paid.id)
    assert documents[DocumentKind.RECEIPT] == paid.documents[0]
    assert DocumentKind.CREDIT_NOTE in documents
    # The workflow ends here: there is nothing left to wait for.
    assert (await asyncio.wait_for(handle_of(stack.temporal, paid.id).result(), 10)).refund_ids == (
        refunded.refund_ids
    )
    assert emails_for(stack.sendgrid, paid.id) == [EmailKind.CONFIRMATION, EmailKind.REFUNDED]
    await assert_consistent(stack.db, refunded)
    await stripe_agrees(stack, paid.id, 0)


async def test_a_refund_made_at_stripe_ends_the_booking(stack: Stack, quick: Settings) -> None:
    """Someone refunds in Stripe's dashboard; Stripe sends `charge.refunded`."""
    paid = await confirmed(
        stack.temporal, quick, stack.stripe_client, await stack.new_session(capacity=12), 2
    )
    # Stripe's other events for a confirmed booking change nothing.
    for event_type in (PaymentEventType.SUCCEEDED, PaymentEventType.FAILED):
        await tell(stack.temporal, paid, event_type)
    await asyncio.sleep(0.3)
    assert await view_of(stack.temporal, paid.id) == paid

    assert paid.payment_intent_id is not None
    await stack.stripe_client.v1.refunds.create_async({"payment_intent": paid.payment_intent_id})
    await tell(stack.temporal, paid, PaymentEventType.REFUNDED)
    ended = await asyncio.wait_for(handle_of(stack.temporal, paid.id).result(), 10)

    assert (ended.status, ended.status_reason) == (BookingStatus.REFUNDED, "refunded at Stripe")
    assert ended.refund_ids == []  # the booking refunded nothing itself
    assert await refunds_of(stack.stripe_client, paid) == [(15_000, None)]
    assert DocumentKind.CREDIT_NOTE in await documents_of(stack.db, paid.id)
    assert emails_for(stack.sendgrid, paid.id) == [EmailKind.CONFIRMATION, EmailKind.REFUNDED]
    await assert_consistent(stack.db, ended)
    assert await places_of(stack.db, paid.id) == {}


async def test_reminded_then_not_cancellable_once_started_then_completed(
    stack: Stack, quick: Settings
) -> None:
    """A session starting in seconds: reminders are due four seconds before it (one booking:
    five seconds to be paid, receipted and told, even on a loaded machine) or were due already
    when paid (the other: no reminder)."""
    session_id = await stack.new_session(
        capacity=12, starts_in=timedelta(seconds=9), duration=timedelta(seconds=2)
    )
    async with stack.db() as s:
        session = await s.get(Session, uuid.UUID(session_id))
        assert session is not None
        starts_at, ends_at = session.starts_at, session.ends_at
    reminded, too_late = await asyncio.gather(
        confirmed(
            stack.temporal,
            quick.model_copy(update={"reminder_before_seconds": 4}),
            stack.stripe_client,
            session_id,
        ),
        confirmed(
            stack.temporal,
            quick.model_copy(update={"reminder_before_seconds": 3600}),
            stack.stripe_client,
            session_id,
        ),
    )

    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.1)
    with pytest.raises(BookingNotCancellable, match="the session has started"):
        await cancel_booking_workflow(stack.temporal, reminded.id, CancelRequest(), reminded.status)
    assert await places_of(stack.db, reminded.id) == {SeatState.SOLD: 1}

    for booking in (reminded, too_late):
        completed = await asyncio.wait_for(handle_of(stack.temporal, booking.id).result(), 10)
        assert completed.status == BookingStatus.COMPLETED
        assert completed.reference == booking.reference
        await assert_consistent(stack.db, completed)
    assert datetime.now(UTC) >= ends_at
    # Read once the workflows completed: each sent its emails before it did (the reminder's
    # step may end after the session started, on a loaded machine).
    assert emails_for(stack.sendgrid, reminded.id) == [EmailKind.CONFIRMATION, EmailKind.REMINDER]
    assert emails_for(stack.sendgrid, too_late.id) == [EmailKind.CONFIRMATION]
