"""The money paths of a confirmed booking, each forced: refunds made at Stripe read back before
the booking refunds, refunds Stripe refuses, orders queued behind a held refund, and the refund
policy of the moment a cancel was accepted (the session's cancellation against a customer's:
test_session_cancel_races.py). After each, what Stripe holds (paid less refunded) is what the
booking says remains."""

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.payments import PaymentActivities
from core.enums import BookingStatus, RefundSource, SeatState
from core.settings import Settings
from messages.booking import CANCEL_UPDATE_ID, CancelRequest, PlacesCancellation, RefundOrder
from messages.payments import RefundRequest
from tests.helpers.held_refunds import (
    HALF_UNTIL_THE_START,
    STARTS_IN,
    customer_cancel,
    held_order,
    past,
    refund_in_dashboard,
    refunded_in_full,
    refusing,
    sources,
    two_places,
)
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    assert_books_match_stripe,
    confirmed,
    handle_of,
    ledger_of,
    places_of,
    stripe_agrees,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow


async def test_a_refund_made_at_stripe_is_read_back_before_an_admin_refund(
    stack: Stack, quick: Settings
) -> None:
    """A dashboard refund whose webhook has not come: the admin's order for what the booking
    last knew is refused (more than remains at Stripe), the rest is refunded exactly."""
    _, view, handle = await two_places(stack, quick, policy=None)
    await refund_in_dashboard(stack.stripe_client, view, 5_000)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.refund, RefundOrder(15_000), id="stale")
    assert getattr(refused.value.cause, "type", None) == "InvalidRequest"
    rest = await handle.execute_update(BookingWorkflow.refund, RefundOrder(10_000), id="rest")

    await refunded_in_full(
        stack,
        rest,
        [(5_000, RefundSource.STRIPE), (10_000, RefundSource.ADMIN)],
        "money-read_back_before_an_admin_refund",
    )


async def test_a_customer_cancel_refunds_only_what_remains_at_stripe(
    stack: Stack, quick: Settings
) -> None:
    _, view, handle = await two_places(stack, quick, policy=None)
    await refund_in_dashboard(stack.stripe_client, view, 5_000)

    ended = await customer_cancel(handle)

    await refunded_in_full(
        stack,
        ended,
        [(5_000, RefundSource.STRIPE), (10_000, RefundSource.CUSTOMER_POLICY)],
        "money-cancel_refunds_what_remains_at_stripe",
    )


async def test_a_cancel_whose_refund_stripe_refuses_ends_cancelled_not_failed(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The customer's cancel stands (places released, CANCELLED); the refusal is the status
    reason and nothing is recorded as refunded: what was paid remains at Stripe."""
    seen: list[RefundRequest] = []
    settings = await own_worker(
        refusing(PaymentActivities(stack.stripe_client), lambda _: True, seen)
    )
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=4), 1
    )
    handle = handle_of(stack.temporal, view.id)

    ended = await customer_cancel(handle)

    assert ended.status == BookingStatus.CANCELLED
    assert ended.status_reason is not None and "the charge is disputed" in ended.status_reason
    assert (ended.refunds, len(seen)) == ([], 1)
    assert (await asyncio.wait_for(handle.result(), 15)).status == BookingStatus.CANCELLED
    assert await places_of(stack.db, view.id) == {}
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, view.id) == 7_500
    await keep_history(stack.temporal, view.id, "money-cancel_refund_refused")


async def test_a_places_refund_stripe_refuses_changes_nothing_and_uses_up_its_sequence(
    stack: Stack, own_worker: OwnWorker
) -> None:
    seen: list[RefundRequest] = []
    settings = await own_worker(
        refusing(PaymentActivities(stack.stripe_client), lambda _: len(seen) == 1, seen)
    )
    view = await confirmed(
        stack.temporal, settings, stack.stripe_client, await stack.new_session(capacity=4), 3
    )
    handle = handle_of(stack.temporal, view.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.cancel_places, PlacesCancellation(count=1), id="first"
        )
    assert getattr(refused.value.cause, "type", None) == "PaymentProviderRefused"
    unchanged = await handle.query(BookingWorkflow.view)
    assert unchanged is not None
    assert (unchanged.seat_labels, unchanged.amount_total) == (view.seat_labels, 22_500)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 3}
    assert await ledger_of(stack.db, view.id) == (0, [])

    again = await handle.execute_update(
        BookingWorkflow.cancel_places, PlacesCancellation(count=1), id="again"
    )

    assert [(r.sequence, r.amount) for r in seen] == [(1, 7_500), (2, 7_500)]
    assert [(r.sequence, r.amount) for r in again.refunds] == [(2, 7_500)]
    assert (len(again.seat_labels), again.amount_total) == (2, 15_000)
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 2}
    await stripe_agrees(stack, view.id, 15_000)
    await keep_history(stack.temporal, view.id, "money-places_refund_refused_then_made")


async def test_an_order_queued_before_a_cancel_is_carried_out_not_dropped(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Found by the chaos test: an admin's refund queued behind another, answered "under way",
    was refused once a customer's cancel came after it. Orders go first, in their order: both
    refunds are made, then the cancel refunds half of what remains."""
    held = await held_order(stack, own_worker, policy=HALF_UNTIL_THE_START)
    queued = await held.ask(BookingWorkflow.refund, RefundOrder(2_000), "queued")
    customer = await held.ask(BookingWorkflow.cancel, CancelRequest(), CANCEL_UPDATE_ID)
    await held.release()
    assert (await queued.result()).status == BookingStatus.CONFIRMED
    ended = await customer.result()

    assert ended.status == BookingStatus.CANCELLED
    assert sources(ended) == [
        (1_000, RefundSource.ADMIN),
        (2_000, RefundSource.ADMIN),
        (6_000, RefundSource.CUSTOMER_POLICY),
    ]
    await stripe_agrees(stack, held.view.id, 6_000)


async def test_the_policy_percent_is_the_one_in_force_when_the_cancel_was_accepted(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Refunded in full until the start (the default policy): a cancel accepted before the
    start but carried out after it, behind a slow admin refund, still refunds in full."""
    starts_at = datetime.now(UTC) + STARTS_IN
    held = await held_order(stack, own_worker, starts_in=STARTS_IN)
    cancel = await held.ask(BookingWorkflow.cancel, CancelRequest(), CANCEL_UPDATE_ID)
    await past(starts_at)
    await held.release()
    ended = await cancel.result()

    await refunded_in_full(
        stack,
        ended,
        [(1_000, RefundSource.ADMIN), (14_000, RefundSource.CUSTOMER_POLICY)],
        "money-policy_of_the_moment_accepted",
    )


async def test_places_given_back_are_refunded_by_the_policy_of_the_moment_accepted(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """Places given back before the start, carried out after it (behind a slow admin refund):
    refunded in full as the default policy said when the order was accepted, not refused."""
    starts_at = datetime.now(UTC) + STARTS_IN
    held = await held_order(stack, own_worker, starts_in=STARTS_IN)
    view = held.view
    places = await held.ask(BookingWorkflow.cancel_places, PlacesCancellation(count=1), "one-place")
    await past(starts_at)
    await held.release()
    kept = await places.result()

    assert (kept.status, len(kept.seat_labels), kept.amount_total) == (
        BookingStatus.CONFIRMED,
        1,
        7_500,
    )
    assert sources(kept) == [(1_000, RefundSource.ADMIN), (7_500, RefundSource.PLACES)]
    assert await places_of(stack.db, view.id) == {SeatState.SOLD: 1}
    await stripe_agrees(stack, view.id, 6_500)
