"""Every write that takes an Idempotency-Key answers a replay with the same body as the first
time, and refuses the same key with another body as POST /v1/bookings does (422
idempotency-key-reused), doing nothing a second time (issue 17, case 3)."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import stripe

from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import booking_body, paid_booking, session_with
from tests.helpers.stack import Stack

REUSED = "urn:booking-engine:problem:idempotency-key-reused"


def assert_reused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == REUSED


async def refunded_at_stripe(stripe_client: stripe.StripeClient, intent: str) -> list[int]:
    page = await stripe_client.v1.refunds.list_async({"payment_intent": intent})
    return sorted(r.amount for r in page.data)


async def test_a_booking_key_with_another_body_is_refused(api: httpx.AsyncClient) -> None:
    session_id = await session_with(api, datetime.now(UTC) + timedelta(days=30))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await api.post("/v1/bookings", json=booking_body(session_id, 2), headers=key)
    again = await api.post("/v1/bookings", json=booking_body(session_id, 2), headers=key)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    assert_reused(await api.post("/v1/bookings", json=booking_body(session_id, 3), headers=key))
    held = (await api.get(f"/v1/sessions/{session_id}")).json()["availability"]["held"]
    assert held == 2


async def test_a_refund_key_with_another_body_is_refused_and_refunds_once(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    refunds = f"/v1/bookings/{booking['id']}/refunds"
    key = {"Idempotency-Key": str(uuid.uuid4()), **ADMIN}

    first = await stack.api.post(refunds, json={"amount": 1000}, headers=key)
    again = await stack.api.post(refunds, json={"amount": 1000}, headers=key)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    assert_reused(await stack.api.post(refunds, json={"amount": 5000}, headers=key))
    assert_reused(await stack.api.post(refunds, json={"amount": 1000, "reason": "x"}, headers=key))

    intent = booking["payment"]["payment_intent_id"]
    assert await refunded_at_stripe(stack.stripe_client, intent) == [1000]
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()["amount_refunded"] == 1000


async def test_a_places_key_with_another_body_is_refused_and_gives_back_once(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 3)
    places = f"/v1/bookings/{booking['id']}/cancel-places"
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = await stack.api.post(places, json={"count": 1}, headers=key)
    again = await stack.api.post(places, json={"count": 1}, headers=key)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    assert_reused(await stack.api.post(places, json={"count": 2}, headers=key))
    assert_reused(await stack.api.post(places, json={"seats": booking["seats"][:1]}, headers=key))

    after = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert after["quantity"] == 2
    intent = booking["payment"]["payment_intent_id"]
    assert await refunded_at_stripe(stack.stripe_client, intent) == [7500]
