"""The consistency checker against the real servers: quiet on healthy bookings, and what its
finders give the safety net. Each rule broken alone: test_rules.py."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import WorkflowExecutionStatus

from core.enums import BookingStatus
from reconcile.consistency import Invariant, Rule
from reconcile.findings import OrphanReason, orphan_holds, unclaimed_payments
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import session_with
from tests.helpers.consistency import (
    SETTLE_SECONDS,
    Check,
    World,
    at_rest,
    cancelled,
    confirmed,
    expired,
    pending,
    refunded,
)
from tests.helpers.stack import Stack
from tests.reconcile.breaking import (
    add_email,
    refund_at_stripe,
    refund_at_stripe_told,
    seen,
    stray_payment,
    terminate,
)


async def test_healthy_bookings_have_no_violations(stack: Stack, run_check: Check) -> None:
    session_id = await stack.new_session(capacity=6)
    expired_session, expired_booking = await expired(stack.api, stack.new_session, quantity=2)
    world = World(
        [session_id, expired_session],
        {
            "pending": await pending(stack.api, session_id, 2),
            "confirmed": await confirmed(stack.api, stack.stripe_client, session_id, 2),
            "cancelled": await cancelled(stack.api, session_id),
            "refunded": await refunded(stack.api, stack.stripe_client, session_id),
            "expired": expired_booking,
        },
    )

    await at_rest(stack.db, world)
    report = await run_check(world)

    assert report.violations == []
    counts = report.counts
    assert (counts.sessions, counts.bookings, counts.bookings_unsettled) == (2, 5, 0)
    assert counts.places_taken == 4  # 2 held by the pending booking, 2 sold
    assert counts.workflows == 5
    assert counts.payment_intents == 5
    assert counts.payments_succeeded == 2
    assert counts.documents >= 3  # two receipts and a credit note
    assert counts.queries == counts.workflows_running > 0
    assert counts.query_failures == 0


async def test_a_terminated_pending_booking_keeps_its_places(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=4)
    booking = await pending(stack.api, session_id, 2)
    world = World([session_id], {"pending": booking})
    await at_rest(stack.db, world)
    await terminate(stack.temporal, booking)
    # An email the workflow began and will now never finish.
    await add_email(stack.db, booking, "hold_expired", "sending")

    report = await run_check(world)

    assert seen(report) == {
        (Invariant.NO_OVERBOOKING, Rule.ORPHAN_WORKFLOW_CLOSED, booking["id"]),
        (Invariant.ONE_RECEIPT_ONE_EMAIL, Rule.EMAIL_STUCK, booking["id"]),
        (Invariant.MIRROR_MATCHES_WORKFLOW, Rule.OPEN_WITHOUT_WORKFLOW, booking["id"]),
    }
    [hold] = await orphan_holds(
        stack.db, stack.temporal, session_ids=[session_id], settle_seconds=1
    )
    assert (hold.booking_id, hold.reason, hold.status) == (
        booking["id"],
        OrphanReason.WORKFLOW_CLOSED,
        BookingStatus.PENDING_PAYMENT,
    )
    assert hold.workflow_status == WorkflowExecutionStatus.TERMINATED
    assert not hold.workflow_open
    assert (sorted(hold.held), hold.sold) == (sorted(booking["seats"]), ())


async def test_money_paid_for_an_expired_booking_on_an_intent_nobody_claims(
    stack: Stack, run_check: Check
) -> None:
    session_id, booking = await expired(stack.api, stack.new_session)
    world = World([session_id], {"expired": booking})
    await at_rest(stack.db, world)
    # No workflow waits for money on an intent of its own.
    stray = await stray_payment(stack.stripe_client, booking)
    await asyncio.sleep(1.5)  # localstripe's webhook reaches the booking, which ignores it

    report = await run_check(world)

    assert seen(report) == {(Invariant.MONEY_BALANCES, Rule.UNCLAIMED_PAYMENT, stray)}
    [payment] = await unclaimed_payments(
        stack.db, stack.temporal, stack.stripe_client, session_ids=[session_id], settle_seconds=1
    )
    assert (payment.payment_intent_id, payment.booking_id, payment.booking_status) == (
        stray,
        booking["id"],
        BookingStatus.EXPIRED,
    )
    assert (payment.amount, payment.refunded, payment.currency) == (
        booking["amount_total"],
        0,
        "GBP",
    )

    await refund_at_stripe(stack.stripe_client, stray)
    assert (await run_check(world)).violations == []


async def test_partly_refunded_repriced_and_policy_cancelled_bookings_are_no_violation(
    stack: Stack, run_check: Check
) -> None:
    """Money kept by a refund policy is the seller's: neither a violation nor refunded by the
    safety net. A refund made at Stripe and read back is the booking's as much as its own."""
    session_id = await stack.new_session(capacity=12)
    half_back = await session_with(
        stack.api, datetime.now(UTC) + timedelta(days=3), [{"days_before": 1, "percent": 50}]
    )
    world = World(
        [session_id, half_back],
        {
            "partly refunded": await confirmed(stack.api, stack.stripe_client, session_id, 2),
            "fewer places": await confirmed(stack.api, stack.stripe_client, session_id, 5),
            "cancelled for half": await confirmed(stack.api, stack.stripe_client, half_back, 2),
            "refunded at Stripe": await confirmed(stack.api, stack.stripe_client, session_id, 2),
        },
    )
    await refund_at_stripe_told(
        stack.api, stack.stripe_client, world.bookings["refunded at Stripe"], 1_000
    )
    refund = await stack.api.post(
        f"/v1/bookings/{world.id('partly refunded')}/refunds", json={"amount": 500}, headers=ADMIN
    )
    assert refund.json()["amount_refunded"] == 500
    fewer = await stack.api.post(
        f"/v1/bookings/{world.id('fewer places')}/cancel-places", json={"count": 2}
    )
    assert (fewer.json()["amount_total"], fewer.json()["amount_refunded"]) == (20_250, 13_500)
    cancelled = await stack.api.post(f"/v1/bookings/{world.id('cancelled for half')}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("CANCELLED", 7_500)

    await at_rest(stack.db, world)
    report = await run_check(world)

    assert report.violations == []
    assert report.counts.documents >= 8  # four receipts, four credit notes
    assert report.counts.refunds_recorded == 4
    kept = await unclaimed_payments(
        stack.db,
        stack.temporal,
        stack.stripe_client,
        session_ids=[half_back],
        settle_seconds=SETTLE_SECONDS,
    )
    assert kept == []
