"""Stripe's side of a test: events signed as Stripe signs them, and what the engine recorded."""

import json
import time
import uuid
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.tables import StripeEvent
from tests.conftest import WEBHOOK_SECRET


def signed_event(
    event_type: str,
    intent: dict[str, Any],
    event_id: str | None = None,
    secret: str = WEBHOOK_SECRET,
    at: int | None = None,
    account: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """An event signed like Stripe does, for duplicate and out-of-order deliveries; with
    `account`, about that connected account's object (Connect)."""
    created = at or int(time.time())
    event: dict[str, Any] = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": intent},
    }
    if account is not None:
        event["account"] = account
    payload = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, created)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def recorded(db: async_sessionmaker[AsyncSession], event_id: str) -> StripeEvent | None:
    async with db() as s:
        return await s.scalar(select(StripeEvent).where(StripeEvent.id == event_id))
