"""Bookings through the public API, as a caller makes them: start one, pay it, wait for a
status, erase a customer once at rest; the bodies of sessions and the shape of a 422."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import stripe

from devstack.pay import pay
from tests.api.conftest import ADMIN
from tests.helpers.polling import eventually


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


async def at_once(api: httpx.AsyncClient, session_id: str, buyers: int) -> list[httpx.Response]:
    """`buyers` callers each asking for one place at the same moment, each with its own key."""

    async def buy() -> httpx.Response:
        return await api.post(
            "/v1/bookings",
            json=booking_body(session_id),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    return await asyncio.gather(*[buy() for _ in range(buyers)])


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

    async def erase() -> dict[str, Any]:
        answer = await api.post("/v1/customers/erase", json={"email": email}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        erasure: dict[str, Any] = answer.json()
        assert booking_id in erasure["erased"] + erasure["settling"], erasure
        return erasure

    return await eventually(
        erase,
        lambda erasure: booking_id in erasure["erased"],
        within=within,
        every=0.2,
        what=f"{booking_id} at rest and erased",
    )


async def wait_for_status(
    api: httpx.AsyncClient, booking_id: str, status: str, within: float = 15
) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        return (await api.get(f"/v1/bookings/{booking_id}")).json()  # type: ignore[no-any-return]

    return await eventually(
        read, lambda b: b["status"] == status, within=within, what=f"booking {status}"
    )


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
