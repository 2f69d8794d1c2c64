"""Refunds in the booking workflow: with Stripe's answer lost each is made once however often
its activity runs, two alike stay two, and every refund (a late payment's too) is recorded."""

import asyncio
import uuid

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.payments import PaymentActivities
from core.enums import BookingStatus, SeatState
from core.errors import PaymentProviderRefused
from core.settings import Settings
from messages.booking import RefundOrder
from messages.payments import PaymentEventType, RefundInfo, RefundRequest
from models.tables import BookingRefund
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    book,
    handle_of,
    mirror_of,
    pay_and_tell,
    pay_at_stripe,
    places_of,
    refunds_of,
    session_row_cancelled,
    stripe_agrees,
    tell,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow


async def test_a_refund_whose_answer_is_lost_is_made_once_and_two_alike_stay_two(
    stack: Stack, own_worker: OwnWorker
) -> None:
    real = PaymentActivities(stack.stripe_client)
    attempts: list[RefundRequest] = []

    @activity.defn(name="refund_payment")
    async def first_answer_lost(request: RefundRequest) -> RefundInfo:
        """Stripe makes the refund; its answer never reaches the worker the first time."""
        attempts.append(request)
        refund = await real.refund(request)
        if len(attempts) == 1:
            raise ConnectionError("the connection dropped before Stripe's answer")
        return refund

    settings = await own_worker(first_answer_lost)
    view = await book(stack.temporal, settings, await stack.new_session(capacity=4), 2)
    paid = await pay_and_tell(stack.temporal, stack.stripe_client, view)
    handle = handle_of(stack.temporal, paid.id)
    goodwill = RefundOrder(1_000, "goodwill")

    first = await handle.execute_update(BookingWorkflow.refund, goodwill, id="goodwill-1")
    second = await handle.execute_update(BookingWorkflow.refund, goodwill, id="goodwill-2")
    again = await handle.execute_update(BookingWorkflow.refund, goodwill, id="goodwill-1")

    assert len(attempts) == 3  # the lost answer's retry, then the second refund
    assert [r.amount for r in first.refunds] == [1_000]
    assert again == first
    assert (second.status, [r.sequence for r in second.refunds]) == (
        BookingStatus.CONFIRMED,
        [1, 2],
    )
    assert await refunds_of(stack.stripe_client, paid) == [(1_000, "admin"), (1_000, "admin")]
    async with stack.db() as s:
        recorded = await s.scalars(
            select(BookingRefund.stripe_refund_id).where(
                BookingRefund.booking_id == uuid.UUID(paid.id)
            )
        )
        assert sorted(recorded) == sorted(r.stripe_refund_id for r in second.refunds)
    assert await places_of(stack.db, paid.id) == {SeatState.SOLD: 2}

    # Two orders at once for more than remains together: the second is refused when its turn
    # comes, not half-made.
    rest = second.amount_paid - second.amount_refunded
    outcomes = await asyncio.gather(
        handle.execute_update(BookingWorkflow.refund, RefundOrder(rest, "all"), id="all-a"),
        handle.execute_update(BookingWorkflow.refund, RefundOrder(rest, "all"), id="all-b"),
        return_exceptions=True,
    )
    ended = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(ended) == 1 and ended[0].status == BookingStatus.REFUNDED
    assert sum(amount for amount, _ in await refunds_of(stack.stripe_client, paid)) == 15_000
    await stripe_agrees(stack, paid.id, 0)


async def test_a_payment_that_cannot_be_confirmed_is_refunded_and_recorded(
    stack: Stack, quick: Settings
) -> None:
    """The session was cancelled while the customer paid: the full refund the workflow makes
    is recorded as the booking's refund, as every other."""
    session_id = await stack.new_session(capacity=4)
    view = await book(stack.temporal, quick, session_id, 2)
    await session_row_cancelled(stack.db, session_id)

    await pay_at_stripe(stack.stripe_client, view)
    await tell(stack.temporal, view, PaymentEventType.SUCCEEDED)
    ended = await asyncio.wait_for(handle_of(stack.temporal, view.id).result(), 15)

    assert ended.status == BookingStatus.REFUNDED
    assert [(r.sequence, r.amount, r.reason) for r in ended.refunds] == [
        (1, 15_000, "not-confirmable")
    ]
    assert ended.refund_ids == [ended.refunds[0].stripe_refund_id]
    async with stack.db() as s:
        recorded = await s.scalars(
            select(BookingRefund.amount).where(BookingRefund.booking_id == uuid.UUID(view.id))
        )
        assert list(recorded) == [15_000]
    assert (await mirror_of(stack.db, view.id)).amount_refunded == 15_000
    assert await places_of(stack.db, view.id) == {}
    await keep_history(stack.temporal, view.id, "partial-refunds-not_confirmable_recorded")
    await stripe_agrees(stack, view.id, 0)


async def test_a_refund_stripe_refuses_fails_that_order_not_the_booking(
    stack: Stack, own_worker: OwnWorker
) -> None:
    real = PaymentActivities(stack.stripe_client)

    @activity.defn(name="refund_payment")
    async def refuses_odd_amounts(request: RefundRequest) -> RefundInfo:
        """Stripe refuses this refund for good (say, the charge is disputed)."""
        if request.amount is not None and request.amount % 2:
            raise PaymentProviderRefused("Stripe refused: charge is disputed")
        return await real.refund(request)

    settings = await own_worker(refuses_odd_amounts)
    paid = await pay_and_tell(
        stack.temporal,
        stack.stripe_client,
        await book(stack.temporal, settings, await stack.new_session(capacity=4), 1),
    )
    handle = handle_of(stack.temporal, paid.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.refund, RefundOrder(999), id="odd")
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "PaymentProviderRefused"
    after = await handle.execute_update(BookingWorkflow.refund, RefundOrder(1_000), id="even")

    assert (after.status, [r.amount for r in after.refunds]) == (BookingStatus.CONFIRMED, [1_000])
    assert await refunds_of(stack.stripe_client, paid) == [(1_000, "admin")]
    assert await places_of(stack.db, paid.id) == {SeatState.SOLD: 1}
    await stripe_agrees(stack, paid.id, 6500)
