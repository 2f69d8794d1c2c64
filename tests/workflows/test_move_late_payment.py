"""A dearer move's difference paid after the move was given up: Stripe could not cancel the
difference's PaymentIntent at the hold's end (its cancel replaced by an outage on a worker of
the test's own), the customer pays it afterwards, and the booking's workflow refunds it in full,
the booking as it was."""

import uuid

from temporalio import activity

from clients.booking_workflows import start_booking_workflow
from core.enums import BookingStatus, SeatState
from devstack.pay import pay
from messages.booking import MoveOrder
from messages.payments import PaymentEvent, PaymentEventType, PaymentIntentInfo
from reconcile.findings import unclaimed_payments
from tests.helpers.activity_bookings import seat_states
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import booking_request, handle_of, mirror_of, pay_and_tell
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow


@activity.defn(name="cancel_payment_intent")
async def stripe_unreachable(payment_intent_id: str) -> PaymentIntentInfo:
    raise ConnectionError("Stripe unreachable")


async def test_a_difference_paid_after_the_move_was_given_up_is_refunded(
    stack: Stack, own_worker: OwnWorker
) -> None:
    source = await stack.new_session(capacity=4)
    target = await stack.new_session(capacity=4, price_amount=9_000, hold_seconds=1)
    faulty = await own_worker(stripe_unreachable, payment_grace_seconds=1)
    view = await start_booking_workflow(stack.temporal, faulty, booking_request(source, 2))
    await pay_and_tell(stack.temporal, stack.stripe_client, view)
    handle = handle_of(stack.temporal, view.id)

    asked = await handle.execute_update(
        BookingWorkflow.move, MoveOrder(target), id=f"move-{uuid.uuid4()}"
    )

    assert asked.move_payment is not None and asked.move_payment.amount == 3_000
    await eventually(
        lambda: seat_states(stack.db, target),
        lambda seats: seats == {SeatState.FREE: 4},
        within=15,
        what="the move given up at the hold's end",
    )
    difference = asked.move_payment.payment_intent_id
    assert await pay(stack.stripe_client, difference) == "succeeded"
    event = PaymentEvent(f"evt_{uuid.uuid4().hex[:24]}", PaymentEventType.SUCCEEDED, difference, 0)
    await handle.signal(BookingWorkflow.payment_event, event)

    refunds = await eventually(
        lambda: stack.stripe_client.v1.refunds.list_async({"payment_intent": difference}),
        lambda page: bool(page.data),
        within=15,
        what="the late difference refunded",
    )
    assert [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data] == [
        (3_000, "late-payment")
    ]
    row = await mirror_of(stack.db, view.id)
    assert (row.status, str(row.session_id), row.amount_paid, row.amount_refunded) == (
        BookingStatus.CONFIRMED,
        source,
        15_000,
        0,
    )
    found = await unclaimed_payments(
        stack.db, stack.temporal, stack.stripe_client, session_ids=[source, target]
    )
    assert found == []
