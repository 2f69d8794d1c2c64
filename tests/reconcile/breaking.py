"""Ways to break the books on purpose for the checker's tests: direct SQL, direct localstripe
calls, Temporal terminate; and what the checker saw."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from devstack.pay import pay
from reconcile.consistency import Invariant, Report, Rule
from tests.helpers.polling import eventually
from tests.helpers.stripe_events import signed_event


def seen(report: Report) -> set[tuple[Invariant, str, str]]:
    return {(v.invariant, v.rule, v.subject) for v in report.violations}


def found(report: Report) -> set[tuple[Rule, str]]:
    """Each finding as (kind, subject)."""
    return {(v.rule, v.subject) for v in report.violations}


async def sql(db: async_sessionmaker[AsyncSession], statement: str, **params: object) -> None:
    async with db.begin() as session:
        await session.execute(text(statement), params)


async def terminate(temporal: Client, booking: dict[str, Any]) -> None:
    await temporal.get_workflow_handle(f"booking-{booking['id']}").terminate("checker test")


async def free_places(db: async_sessionmaker[AsyncSession], booking: dict[str, Any]) -> None:
    await sql(
        db,
        "UPDATE seats SET state = 'free', booking_id = NULL WHERE booking_id = :id",
        id=booking["id"],
    )


async def refund_at_stripe(
    stripe_client: stripe.StripeClient,
    intent_id: str,
    amount: int | None = None,
    account: str | None = None,
) -> str:
    """A refund made behind the engine's back (localstripe sends no `charge.refunded`), in the
    connected `account` if given."""
    params: dict[str, Any] = {"payment_intent": intent_id}
    if amount is not None:
        params["amount"] = amount
    refund = await stripe_client.v1.refunds.create_async(
        params,  # type: ignore[arg-type]
        {"stripe_account": account},
    )
    return str(refund.id)


async def refund_at_stripe_told(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, booking: dict[str, Any], amount: int
) -> None:
    """A refund made in Stripe's dashboard, then its signed `charge.refunded` (which localstripe
    does not send), until the booking has recorded it."""
    intent_id = booking["payment"]["payment_intent_id"]
    await refund_at_stripe(stripe_client, intent_id, amount)
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent_id}
    body, headers = signed_event("charge.refunded", charge)
    assert (await api.post("/v1/webhooks/stripe", content=body, headers=headers)).status_code == 200
    await eventually(
        lambda: api.get(f"/v1/bookings/{booking['id']}"),
        lambda answer: answer.json()["amount_refunded"] == amount,
        within=15,
        what="the refund made at Stripe recorded",
    )


async def stray_payment(
    stripe_client: stripe.StripeClient, booking: dict[str, Any], account: str | None = None
) -> str:
    """Money for the booking on a PaymentIntent of its own (a second checkout, say), in the
    connected `account` if given."""
    params: dict[str, Any] = {
        "amount": booking["amount_total"],
        "currency": "gbp",
        "metadata": {"booking_id": booking["id"]},
        "payment_method_types": ["card"],
    }
    intent = await stripe_client.v1.payment_intents.create_async(
        params,  # type: ignore[arg-type]
        {"stripe_account": account},
    )
    assert await pay(stripe_client, intent.id, account=account) == "succeeded"
    return str(intent.id)


async def record_refund_by_hand(
    db: async_sessionmaker[AsyncSession], booking_id: str, refund_id: str, amount: int
) -> None:
    """Write a refund down as the workflow does (its row, the booking's total, a credit note),
    without the workflow."""
    params = {"id": booking_id, "refund": refund_id, "amount": amount}
    await sql(
        db,
        "INSERT INTO booking_refunds"
        " (booking_id, sequence, amount, currency, reason, stripe_refund_id, refunded_at)"
        " SELECT :id, count(*) + 1, :amount, 'GBP', 'by hand', :refund, now()"
        " FROM booking_refunds WHERE booking_id = :id",
        **params,
    )
    await sql(
        db,
        "UPDATE bookings SET amount_refunded = amount_refunded + :amount WHERE id = :id",
        id=booking_id,
        amount=amount,
    )
    await sql(
        db,
        "INSERT INTO receipts (booking_id, kind, number, refers_to, refund_sequence, total,"
        " currency, issued_at, pdf)"
        " SELECT r.booking_id, 'credit_note', :number, r.number, b.sequence, -b.amount,"
        " r.currency, now(), ''::bytea"
        " FROM receipts r JOIN booking_refunds b ON b.booking_id = r.booking_id"
        " WHERE r.booking_id = :id AND r.kind = 'receipt' AND b.stripe_refund_id = :refund",
        id=booking_id,
        refund=refund_id,
        number=f"CN-TEST-{uuid.uuid4().hex[:12]}",
    )


async def add_email(
    db: async_sessionmaker[AsyncSession],
    booking: dict[str, Any],
    kind: str,
    status: str,
    *,
    key: str | None = None,
    age: timedelta = timedelta(0),
) -> None:
    """A `notifications` row as the email step writes it, first tried `age` ago."""
    await sql(
        db,
        "INSERT INTO notifications (key, booking_id, kind, recipient, status, attempts,"
        " created_at)"
        " VALUES (:key, :booking, :kind, 'ada@example.com', :status, 1,"
        " now() - CAST(:age AS interval))",
        key=key or f"{booking['id']}:{kind}",
        booking=booking["id"],
        kind=kind,
        status=status,
        age=age,
    )
