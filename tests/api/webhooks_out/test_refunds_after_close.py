"""Refunds made at Stripe after the booking's workflow has ended (issue 17, case 10): a £150.00
booking cancelled at 50 %, its workflow over, the rest refunded in Stripe's dashboard with its
signed `charge.refunded`: the booking records it (refund, amount refunded, credit note, the
`booking.refunded` webhook out) and ends REFUNDED, as Stripe says."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.repairs import stripe_refunds_workflow_id
from core.enums import DocumentKind
from devstack.pay import pay
from messages.booking import booking_workflow_id
from models.tables import BookingRefund, Receipt, Seat
from tests.api.conftest import ADMIN
from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import accepted_about, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import session_with, start_booking, wait_for_status
from tests.helpers.emails import emails_with
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.histories import keep_workflow_history
from workflows.stripe_refunds import STRIPE_REASON

Db = async_sessionmaker[AsyncSession]
HISTORIES = Path(__file__).parents[2] / "workflows" / "histories" / "stripe-refunds"


async def ledger(db: Db, booking_id: str) -> tuple[list[tuple[int, str]], list[int]]:
    """(amount, reason) of each recorded refund, and the credit notes' totals."""
    key = uuid.UUID(booking_id)
    async with db() as s:
        refunds = await s.execute(
            select(BookingRefund.amount, BookingRefund.reason)
            .where(BookingRefund.booking_id == key)
            .order_by(BookingRefund.sequence)
        )
        notes = await s.scalars(
            select(Receipt.total)
            .where(Receipt.booking_id == key, Receipt.kind == DocumentKind.CREDIT_NOTE)
            .order_by(Receipt.refund_sequence)
        )
        return [(a, r) for a, r in refunds.all()], list(notes)


async def test_a_refund_at_stripe_after_the_workflow_ended_is_recorded_and_refunds_the_booking(
    stack: Stack, register: Register, receiver: WebhookReceiver
) -> None:
    await register("shop", ["booking.refunded"])
    policy = [{"days_before": 0, "percent": 50}]
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30), policy)
    booking = await start_booking(stack.api, session_id, 2)
    intent_id = booking["payment"]["payment_intent_id"]
    assert await pay(stack.stripe_client, intent_id) == "succeeded"
    await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("CANCELLED", 7_500)
    await stack.temporal.get_workflow_handle(
        booking_workflow_id(booking["id"])
    ).result()  # it ended

    # The organiser refunds the rest as goodwill, in the dashboard; Stripe tells us twice.
    await stack.stripe_client.v1.refunds.create_async(
        {"payment_intent": intent_id, "amount": 7_500}
    )
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent_id}
    body, headers = signed_event("charge.refunded", charge)
    for _ in range(2):
        told = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert (told.status_code, told.json()["outcome"]) == (200, "recording-refunds")

    ended = await wait_for_status(stack.api, booking["id"], "REFUNDED")
    assert ended["amount_refunded"] == 15_000
    refunds, notes = await ledger(stack.db, booking["id"])
    assert refunds[1:] == [(7_500, STRIPE_REASON)] and len(refunds) == 2
    assert notes == [-7_500, -7_500]
    told_shop = await wait_for(accepted_about(receiver, "shop", booking["id"]), 2)
    assert [r.body["data"]["refund"]["total_refunded"] for r in told_shop] == [7_500, 15_000]
    await emails_with(stack.sendgrid, booking["id"], "refunded")
    recorder = stripe_refunds_workflow_id(booking["id"])
    await keep_workflow_history(stack.temporal, recorder, HISTORIES / "rest_refunded_after_close")

    # Told again (Stripe retries): nothing new is recorded.
    again, headers = signed_event("charge.refunded", charge)
    told = await stack.api.post("/v1/webhooks/stripe", content=again, headers=headers)
    assert told.status_code == 200
    await stack.temporal.get_workflow_handle(recorder).result()
    assert await ledger(stack.db, booking["id"]) == (refunds, notes)


async def test_a_refund_at_stripe_after_the_session_ended_refunds_the_completed_booking(
    stack: Stack,
) -> None:
    """After the session, POST /refunds is refused (the booking is COMPLETED): Stripe's
    dashboard is the only way to give money back, and the booking follows it."""
    session_id = await stack.new_session(
        starts_in=timedelta(seconds=6), duration=timedelta(seconds=2)
    )
    booking = await start_booking(stack.api, session_id)
    intent_id = booking["payment"]["payment_intent_id"]
    assert await pay(stack.stripe_client, intent_id) == "succeeded"
    await wait_for_status(stack.api, booking["id"], "COMPLETED", within=30)
    refund = {"amount": 100}
    late = await stack.api.post(f"/v1/bookings/{booking['id']}/refunds", json=refund, headers=ADMIN)
    assert late.status_code == 409, late.text

    await stack.stripe_client.v1.refunds.create_async({"payment_intent": intent_id})
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent_id}
    body, headers = signed_event("charge.refunded", charge)
    told = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert told.json()["outcome"] == "recording-refunds"

    ended = await wait_for_status(stack.api, booking["id"], "REFUNDED")
    assert ended["amount_refunded"] == booking["amount_total"]
    assert await ledger(stack.db, booking["id"]) == (
        [(booking["amount_total"], STRIPE_REASON)],
        [-booking["amount_total"]],
    )
    async with stack.db() as s:
        held = await s.scalar(
            select(func.count())
            .select_from(Seat)
            .where(Seat.booking_id == uuid.UUID(booking["id"]))
        )
    assert held == 0
