"""A booking's refunds as localstripe, the database and the fake SendGrid show them, for the
API's refund tests."""

import uuid
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import DocumentKind
from models.tables import Receipt, Seat
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.polling import eventually

Db = async_sessionmaker[AsyncSession]
Json = dict[str, Any]


async def stripe_refunds(stripe_client: stripe.StripeClient, booking: Json) -> list[int]:
    """The amounts localstripe refunded for the booking, smallest first (refunds made in the
    same second have no order there)."""
    page = await stripe_client.v1.refunds.list_async(
        {"payment_intent": booking["payment"]["payment_intent_id"]}
    )
    return sorted(r.amount for r in page.data)


async def credit_notes(db: Db, booking_id: str) -> list[tuple[int | None, int]]:
    """(refund sequence, total) of the booking's credit notes."""
    async with db() as s:
        rows = await s.execute(
            select(Receipt.refund_sequence, Receipt.total)
            .where(
                Receipt.booking_id == uuid.UUID(booking_id),
                Receipt.kind == DocumentKind.CREDIT_NOTE,
            )
            .order_by(Receipt.refund_sequence)
        )
        return [(sequence, total) for sequence, total in rows.all()]


async def seats_of(db: Db, session_id: str) -> dict[str, str]:
    async with db() as s:
        rows = await s.execute(
            select(Seat.label, Seat.state).where(Seat.session_id == uuid.UUID(session_id))
        )
        return dict(rows.all())


async def sent(sendgrid: FakeSendGrid, key: str, within: float = 10) -> Json:
    """The body of the email with this notification key, once the fake SendGrid has it."""

    async def bodies() -> list[Json]:
        return [
            r.body
            for r in sendgrid.requests
            if r.body.get("custom_args", {}).get("notification_key") == key
        ]

    return (await eventually(bodies, within=within, what=f"an email {key}"))[0]
