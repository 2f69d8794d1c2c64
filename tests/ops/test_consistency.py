"""The consistency checker against the real servers: quiet on healthy bookings, and each
invariant broken on purpose is reported with its invariant and subject."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from devstack.pay import pay
from models.enums import BookingStatus
from ops.consistency import Invariant, Report
from ops.findings import OrphanReason, orphan_holds, unclaimed_payments
from tests.api.conftest import ADMIN
from tests.api.helpers import session_with
from tests.conftest import SessionFactory
from tests.ops.conftest import (
    SETTLE_SECONDS,
    Check,
    World,
    at_rest,
    cancelled,
    confirmed,
    expired,
    pending,
    refunded,
    settled,
)


def seen(report: Report) -> set[tuple[Invariant, str, str]]:
    return {(v.invariant, v.rule, v.subject) for v in report.violations}


async def sql(db: async_sessionmaker[AsyncSession], statement: str, **params: object) -> None:
    async with db.begin() as session:
        await session.execute(text(statement), params)


async def test_healthy_bookings_have_no_violations(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    run_check: Check,
) -> None:
    session_id = await new_session(capacity=6)
    expired_session, expired_booking = await expired(api, new_session, quantity=2)
    world = World(
        [session_id, expired_session],
        {
            "pending": await pending(api, session_id, 2),
            "confirmed": await confirmed(api, stripe_client, session_id, 2),
            "cancelled": await cancelled(api, session_id),
            "refunded": await refunded(api, stripe_client, session_id),
            "expired": expired_booking,
        },
    )

    await at_rest(db, world)
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


async def test_a_place_held_for_an_expired_booking(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    db: async_sessionmaker[AsyncSession],
    run_check: Check,
) -> None:
    session_id, booking = await expired(api, new_session)
    world = World([session_id], {"expired": booking})
    await at_rest(db, world)
    await sql(
        db,
        "UPDATE seats SET state = 'held', booking_id = :booking WHERE session_id = :session"
        " AND label = :label",
        booking=booking["id"],
        session=session_id,
        label=booking["seats"][0],
    )

    report = await run_check(world)

    # Closed in the mirror, and by now its workflow has ended too (a cancelled intent cannot
    # bring late money, so it does not wait for any).
    [violation] = report.violations
    assert (violation.invariant, violation.subject) == (Invariant.NO_OVERBOOKING, booking["id"])
    assert violation.rule in {
        f"orphan-{OrphanReason.BOOKING_CLOSED}",
        f"orphan-{OrphanReason.WORKFLOW_CLOSED}",
    }


async def test_a_session_with_more_place_rows_than_its_capacity(
    new_session: SessionFactory, db: async_sessionmaker[AsyncSession], run_check: Check
) -> None:
    session_id = await new_session(capacity=2)
    await sql(
        db,
        "INSERT INTO seats (session_id, label, position, state)"
        " VALUES (:session, 'extra', 99, 'free')",
        session=session_id,
    )

    report = await run_check(World([session_id], {}), settle_seconds=0)

    assert seen(report) == {(Invariant.NO_OVERBOOKING, "seat-rows", session_id)}


async def test_a_terminated_pending_booking_keeps_its_places(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    run_check: Check,
) -> None:
    session_id = await new_session(capacity=4)
    booking = await pending(api, session_id, 2)
    world = World([session_id], {"pending": booking})
    await at_rest(db, world)
    await temporal.get_workflow_handle(f"booking-{booking['id']}").terminate("operator test")
    # An email the workflow began and will now never finish.
    await sql(
        db,
        "INSERT INTO notifications (key, booking_id, kind, recipient, status, attempts)"
        " VALUES (:key, :booking, 'hold_expired', 'ada@example.com', 'sending', 1)",
        key=f"{booking['id']}:hold_expired",
        booking=booking["id"],
    )

    report = await run_check(world)

    assert seen(report) == {
        (Invariant.NO_OVERBOOKING, f"orphan-{OrphanReason.WORKFLOW_CLOSED}", booking["id"]),
        (Invariant.ONE_RECEIPT_ONE_EMAIL, "email-stuck", booking["id"]),
        (Invariant.MIRROR_MATCHES_WORKFLOW, "open-without-workflow", booking["id"]),
    }
    [hold] = await orphan_holds(db, temporal, session_ids=[session_id], settle_seconds=1)
    assert (hold.booking_id, hold.reason, hold.status) == (
        booking["id"],
        OrphanReason.WORKFLOW_CLOSED,
        BookingStatus.PENDING_PAYMENT,
    )
    assert hold.workflow_status == WorkflowExecutionStatus.TERMINATED
    assert not hold.workflow_open
    assert (sorted(hold.held), hold.sold) == (sorted(booking["seats"]), ())


async def test_a_hold_long_past_its_end(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    db: async_sessionmaker[AsyncSession],
    run_check: Check,
) -> None:
    """The workflow's timer is its own; the mirror says the hold ended ten minutes ago."""
    session_id = await new_session(capacity=4)
    booking = await pending(api, session_id)
    world = World([session_id], {"pending": booking})
    await at_rest(db, world)
    await sql(
        db,
        "UPDATE bookings SET hold_expires_at = now() - interval '10 minutes' WHERE id = :id",
        id=booking["id"],
    )
    await settled()  # the edit changed the row (its updated_at) too

    report = await run_check(world)

    assert seen(report) == {
        (Invariant.HOLDS_END_ON_TIME, f"orphan-{OrphanReason.HOLD_OVERDUE}", booking["id"])
    }


async def test_a_confirmed_booking_without_its_receipt_and_with_an_email_twice(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    run_check: Check,
) -> None:
    session_id = await new_session(capacity=4)
    booking = await confirmed(api, stripe_client, session_id)
    world = World([session_id], {"confirmed": booking})
    await at_rest(db, world)
    await sql(db, "DELETE FROM receipts WHERE booking_id = :id", id=booking["id"])
    await sql(
        db,
        "INSERT INTO notifications (key, booking_id, kind, recipient, status, attempts)"
        " VALUES (:key, :booking, 'confirmation', 'ada@example.com', 'sent', 1)",
        key=f"resent-{booking['id']}",
        booking=booking["id"],
    )

    report = await run_check(world)

    assert seen(report) == {
        (Invariant.ONE_RECEIPT_ONE_EMAIL, "receipt-count", booking["id"]),
        (Invariant.ONE_RECEIPT_ONE_EMAIL, "email-twice", booking["id"]),
    }


async def test_the_mirror_says_confirmed_while_the_workflow_says_expired(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    db: async_sessionmaker[AsyncSession],
    run_check: Check,
) -> None:
    session_id, booking = await expired(api, new_session)
    world = World([session_id], {"expired": booking})
    await at_rest(db, world)
    await sql(db, "UPDATE bookings SET status = 'CONFIRMED' WHERE id = :id", id=booking["id"])
    await settled()  # the edit changed the row (its updated_at) too

    report = await run_check(world)

    # The workflow listens for late money for a while after expiring, then completes.
    mirror = {
        (Invariant.MIRROR_MATCHES_WORKFLOW, "mirror-differs", booking["id"]),
        (Invariant.MIRROR_MATCHES_WORKFLOW, "open-without-workflow", booking["id"]),
    }
    assert seen(report) & mirror
    # A CONFIRMED row also claims places and money it does not have.
    assert {
        (Invariant.NO_OVERBOOKING, "places-mismatch", booking["id"]),
        (Invariant.MONEY_BALANCES, "confirmed-unpaid", booking["id"]),
    } <= seen(report)
    assert {v.subject for v in report.violations} == {booking["id"]}


async def test_money_paid_for_an_expired_booking_on_an_intent_nobody_claims(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    run_check: Check,
) -> None:
    session_id, booking = await expired(api, new_session)
    world = World([session_id], {"expired": booking})
    await at_rest(db, world)
    # Money for the booking on an intent of its own (a second checkout, say): no workflow
    # waits for it.
    params: dict[str, Any] = {
        "amount": booking["amount_total"],
        "currency": "gbp",
        "metadata": {"booking_id": booking["id"]},
        "payment_method_types": ["card"],
    }
    stray = await stripe_client.v1.payment_intents.create_async(params)  # type: ignore[arg-type]
    assert await pay(stripe_client, stray.id) == "succeeded"
    await asyncio.sleep(1.5)  # localstripe's webhook reaches the booking, which ignores it

    report = await run_check(world)

    assert seen(report) == {(Invariant.MONEY_BALANCES, "unclaimed-payment", stray.id)}
    [payment] = await unclaimed_payments(
        db, temporal, stripe_client, session_ids=[session_id], settle_seconds=1
    )
    assert (payment.payment_intent_id, payment.booking_id, payment.booking_status) == (
        stray.id,
        booking["id"],
        BookingStatus.EXPIRED,
    )
    assert (payment.amount, payment.refunded, payment.currency) == (
        booking["amount_total"],
        0,
        "GBP",
    )

    await stripe_client.v1.refunds.create_async({"payment_intent": stray.id})
    assert (await run_check(world)).violations == []


async def test_partly_refunded_repriced_and_policy_cancelled_bookings_are_no_violation(
    api: httpx.AsyncClient,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    run_check: Check,
) -> None:
    """Money kept by a refund policy is the seller's: neither a violation nor refunded by the
    safety net."""
    session_id = await new_session(capacity=12)
    half_back = await session_with(
        api, datetime.now(UTC) + timedelta(days=3), [{"days_before": 1, "percent": 50}]
    )
    world = World(
        [session_id, half_back],
        {
            "partly refunded": await confirmed(api, stripe_client, session_id, 2),
            "fewer places": await confirmed(api, stripe_client, session_id, 5),
            "cancelled for half": await confirmed(api, stripe_client, half_back, 2),
        },
    )
    refund = await api.post(
        f"/v1/bookings/{world.id('partly refunded')}/refunds", json={"amount": 500}, headers=ADMIN
    )
    assert refund.json()["amount_refunded"] == 500
    fewer = await api.post(
        f"/v1/bookings/{world.id('fewer places')}/cancel-places", json={"count": 2}
    )
    assert (fewer.json()["amount_total"], fewer.json()["amount_refunded"]) == (20_250, 13_500)
    cancelled = await api.post(f"/v1/bookings/{world.id('cancelled for half')}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("CANCELLED", 7_500)

    await at_rest(db, world)
    report = await run_check(world)

    assert report.violations == []
    assert report.counts.documents >= 6  # three receipts, three credit notes
    kept = await unclaimed_payments(
        db, temporal, stripe_client, session_ids=[half_back], settle_seconds=SETTLE_SECONDS
    )
    assert kept == []
