"""Shared steps of the API tests: start a booking, wait for a status, sign Stripe events."""

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import stripe

from devstack.pay import pay
from tests.api.conftest import ADMIN
from tests.conftest import WEBHOOK_SECRET
from tests.fakes.sendgrid_server import FakeSendGrid


def booking_body(session_id: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "quantity": quantity,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        **extra,
    }


async def start_booking(
    api: httpx.AsyncClient, session_id: str, quantity: int = 1, key: str | None = None
) -> dict[str, Any]:
    response = await api.post(
        "/v1/bookings",
        json=booking_body(session_id, quantity),
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def paid_booking(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, session_id: str, quantity: int = 1
) -> dict[str, Any]:
    """A booking paid through localstripe, once the API says it is CONFIRMED."""
    booking = await start_booking(api, session_id, quantity)
    assert await pay(stripe_client, booking["payment"]["payment_intent_id"]) == "succeeded"
    return await wait_for_status(api, booking["id"], "CONFIRMED")


async def wait_for_status(
    api: httpx.AsyncClient, booking_id: str, status: str, within: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        booking = (await api.get(f"/v1/bookings/{booking_id}")).json()
        if booking["status"] == status:
            return booking  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"booking stayed {booking['status']}, wanted {status}")
        await asyncio.sleep(0.1)


def signed_event(
    event_type: str,
    intent: dict[str, Any],
    event_id: str | None = None,
    secret: str = WEBHOOK_SECRET,
    at: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """An event signed like Stripe does, for duplicate and out-of-order deliveries."""
    created = at or int(time.time())
    payload = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "created": created,
            "data": {"object": intent},
        }
    ).encode()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, created)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def emails_for(sendgrid: FakeSendGrid, booking_id: str, within: float = 0) -> list[str]:
    """The kinds of email the fake SendGrid accepted for a booking, oldest first; waits up to
    `within` seconds for at least one."""
    deadline = time.monotonic() + within
    while True:
        kinds = [
            r.body["custom_args"]["notification_key"].split(":", 1)[1]
            for r in sendgrid.requests
            if r.body.get("custom_args", {}).get("notification_key", "").startswith(booking_id)
        ]
        if kinds or time.monotonic() >= deadline:
            return kinds
        await asyncio.sleep(0.1)


async def session_with(
    api: httpx.AsyncClient,
    starts_at: datetime,
    refund_policy: list[dict[str, Any]] | None = None,
    capacity: int = 12,
) -> str:
    """A session made by an admin through the API, £75 a place, 10 % off 5 places or more."""
    body: dict[str, Any] = {
        "kind": "course",
        "title": "Emergency First Aid at Work",
        "location": "Leeds",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=8)).isoformat(),
        "capacity": capacity,
        "price_amount": 7500,
        "currency": "GBP",
    }
    if refund_policy is not None:
        body["refund_policy"] = refund_policy
    created = await api.post("/v1/sessions", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
