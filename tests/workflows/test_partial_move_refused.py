"""A partial move to a cheaper session whose difference Stripe refuses: the move fails alone,
nothing moved. The target's places are given back, the first booking keeps every place and
its money, and no booking is split off."""

import uuid

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.enums import BookingStatus, SeatState
from core.errors import PaymentProviderRefused
from messages.booking import MoveOrder
from messages.payments import RefundInfo, RefundRequest
from models.tables import Booking, BookingPayment
from tests.helpers.refunds import seats_of
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import book, handle_of, pay_and_tell, stripe_agrees
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow


async def test_a_cheaper_partial_move_whose_refund_stripe_refuses_moves_nothing(
    stack: Stack, own_worker: OwnWorker
) -> None:
    asked: list[RefundRequest] = []

    @activity.defn(name="refund_payment")
    async def refuses(request: RefundRequest) -> RefundInfo:
        """Stripe refuses every refund for good (say, the charge is disputed)."""
        asked.append(request)
        raise PaymentProviderRefused("Stripe refused: charge is disputed")

    settings = await own_worker(refuses)
    source = await stack.new_session(capacity=4)
    target = await stack.new_session(capacity=4, price_amount=5_000)
    paid = await pay_and_tell(
        stack.temporal, stack.stripe_client, await book(stack.temporal, settings, source, 3)
    )
    handle = handle_of(stack.temporal, paid.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.move, MoveOrder(target, count=1), id=f"move-{uuid.uuid4()}"
        )

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "PaymentProviderRefused"
    assert [r.amount for r in asked] == [2_500]  # £75 moving to £50, refunded in full
    view = await handle.query(BookingWorkflow.view)
    assert view is not None
    assert (view.status, view.seat_labels, view.amount_paid, view.split_into) == (
        BookingStatus.CONFIRMED,
        paid.seat_labels,
        22_500,
        [],
    )
    assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}
    source_seats = await seats_of(stack.db, source)
    assert sorted(k for k, v in source_seats.items() if v == SeatState.SOLD) == sorted(
        paid.seat_labels
    )
    async with stack.db() as s:
        split = await s.scalar(select(Booking.id).where(Booking.split_from == uuid.UUID(paid.id)))
        claims = await s.execute(
            select(BookingPayment.booking_id, BookingPayment.amount).where(
                BookingPayment.payment_intent_id == paid.payment_intent_id
            )
        )
        assert (split, claims.all()) == (None, [(uuid.UUID(paid.id), 22_500)])
    await stripe_agrees(stack, paid.id, 22_500)
