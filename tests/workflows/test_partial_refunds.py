"""Partial refunds in the booking workflow with Stripe's answer lost: each refund is made once
however often its activity runs, and two alike refunds stay two."""

import asyncio
import uuid

import stripe
from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client

from activities.payments import PaymentActivities
from models.booking import RefundOrder
from models.enums import BookingStatus, SeatState
from models.payments import RefundInfo, RefundRequest
from models.tables import BookingRefund
from tests.conftest import SessionFactory
from tests.workflows.conftest import OwnWorker
from tests.workflows.helpers import Db, book, handle_of, pay_and_tell, places_of, refunds_of
from workflows.booking import BookingWorkflow


async def test_a_refund_whose_answer_is_lost_is_made_once_and_two_alike_stay_two(
    temporal: Client,
    db: Db,
    new_session: SessionFactory,
    own_worker: OwnWorker,
    stripe_client: stripe.StripeClient,
) -> None:
    real = PaymentActivities(stripe_client)
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
    view = await book(temporal, settings, await new_session(capacity=4), 2)
    paid = await pay_and_tell(temporal, stripe_client, view)
    handle = handle_of(temporal, paid.id)
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
    assert await refunds_of(stripe_client, paid) == [(1_000, "admin"), (1_000, "admin")]
    async with db() as s:
        recorded = await s.scalars(
            select(BookingRefund.stripe_refund_id).where(
                BookingRefund.booking_id == uuid.UUID(paid.id)
            )
        )
        assert sorted(recorded) == sorted(r.stripe_refund_id for r in second.refunds)
    assert await places_of(db, paid.id) == {SeatState.SOLD: 2}

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
    assert sum(amount for amount, _ in await refunds_of(stripe_client, paid)) == 15_000
