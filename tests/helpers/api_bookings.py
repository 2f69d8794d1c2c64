"""Shared steps of the API tests: start a booking, wait for a status, erase a customer once
at rest, sign Stripe events."""

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import stripe

from devstack.pay import pay
from tests.api.conftest import ADMIN
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


async def erase_at_rest(
    api: httpx.AsyncClient, email: str, booking_id: str, within: float = 20
) -> dict[str, Any]:
    """Erase a customer as a real caller does: a booking closed a moment ago is `settling` (its
    cancellation email or webhook still on its way), so ask again until it is erased. Every answer
    lists it as settling or erased, never neither. Returns the answer that erased it."""
    deadline = time.monotonic() + within
    while True:
        answer = await api.post("/v1/customers/erase", json={"email": email}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        erasure: dict[str, Any] = answer.json()
        if booking_id in erasure["erased"]:
            return erasure
        assert booking_id in erasure["settling"], erasure
        assert time.monotonic() < deadline, f"{booking_id} never came to rest: {erasure}"
        await asyncio.sleep(0.2)


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


# How long the emails of a booking must stay the same before `emails_for` trusts the list: a
# duplicate (a retried send) arrives after the first email, not with it.
EMAILS_SETTLE_SECONDS = 1.5


async def emails_for(sendgrid: FakeSendGrid, booking_id: str, within: float = 0) -> list[str]:
    """The kinds of email the fake SendGrid accepted for a booking, oldest first. With `within`,
    waits up to that long for at least one, then until none has arrived for
    EMAILS_SETTLE_SECONDS, so that "exactly these" is checked at rest, not at the first."""
    deadline = time.monotonic() + within
    kinds = _emails_of(sendgrid, booking_id)
    while not kinds and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        kinds = _emails_of(sendgrid, booking_id)
    if not within:
        return kinds
    settled = time.monotonic() + EMAILS_SETTLE_SECONDS
    while time.monotonic() < settled:
        await asyncio.sleep(0.1)
        if (latest := _emails_of(sendgrid, booking_id)) != kinds:
            kinds, settled = latest, time.monotonic() + EMAILS_SETTLE_SECONDS
    return kinds


def _emails_of(sendgrid: FakeSendGrid, booking_id: str) -> list[str]:
    return [
        r.body["custom_args"]["notification_key"].split(":", 1)[1]
        for r in sendgrid.requests
        if r.body.get("custom_args", {}).get("notification_key", "").startswith(booking_id)
    ]


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


def course(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "course",
        "title": "Paediatric First Aid",
        "location": f"Leeds {uuid.uuid4().hex[:6]}",
        "starts_at": "2031-03-01T09:00:00Z",
        "ends_at": "2031-03-01T17:00:00Z",
        "capacity": 8,
        "price_amount": 9900,
        "currency": "GBP",
        "hold_seconds": 300,
        "group_discount": {"min_quantity": 4, "percent": 15},
        **extra,
    }


def invalid_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(":invalid-request")
    return {error["field"] for error in response.json()["errors"]}
