"""The Stripe webhook endpoint: signatures, unknown bookings, unhandled types."""

import json
import time
import uuid

import httpx
import pytest
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from models.tables import StripeEvent
from tests.conftest import WEBHOOK_SECRET
from tests.helpers.api_bookings import start_booking
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import recorded, signed_event


def intent(booking_id: str | None = None) -> dict[str, object]:
    return {
        "id": f"pi_{uuid.uuid4().hex[:14]}",
        "object": "payment_intent",
        "metadata": {"booking_id": booking_id} if booking_id else {},
    }


async def test_bad_missing_or_stale_signatures_are_400_and_signal_nothing(stack: Stack) -> None:
    booking = await start_booking(stack.api, await stack.new_session(capacity=12))
    pi = {"id": booking["payment"]["payment_intent_id"], "metadata": {"booking_id": booking["id"]}}
    attempts = {
        "wrong secret": signed_event("payment_intent.succeeded", pi, secret="whsec_wrong"),
        "stale": signed_event("payment_intent.succeeded", pi, at=int(time.time()) - 301),
    }
    body, headers = signed_event("payment_intent.succeeded", pi)
    attempts["missing"] = (body, {"Content-Type": "application/json"})
    attempts["tampered"] = (body.replace(b"succeeded", b"xucceeded"), headers)
    for name, (body, headers) in attempts.items():
        response = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["type"].endswith("bad-signature"), name
    async with stack.db() as s:
        assert not (
            await s.scalars(
                select(StripeEvent).where(StripeEvent.booking_id == uuid.UUID(booking["id"]))
            )
        ).all()
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()[
        "status"
    ] == "PENDING_PAYMENT"


async def test_unknown_booking_is_acknowledged_and_recorded(
    api: httpx.AsyncClient, db: async_sessionmaker
) -> None:
    body, headers = signed_event("payment_intent.succeeded", intent(), event_id="evt_unknown_1")
    response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown-booking"
    event = await recorded(db, "evt_unknown_1")
    assert event is not None and event.outcome == "unknown-booking"

    body, headers = signed_event("payment_intent.succeeded", intent(str(uuid.uuid4())))
    response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert (response.status_code, response.json()["outcome"]) == (200, "booking-closed")


async def test_unhandled_event_types_are_acknowledged_and_recorded(
    api: httpx.AsyncClient, db: async_sessionmaker
) -> None:
    body, headers = signed_event("customer.created", {"id": "cus_1"}, event_id="evt_other_1")
    response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored-type")
    assert (await recorded(db, "evt_other_1")) is not None


async def test_a_body_that_is_not_an_event_is_400(api: httpx.AsyncClient) -> None:
    _, headers = signed_event("payment_intent.succeeded", intent())
    garbage = b"[1, 2, 3]"
    headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
        garbage.decode(), WEBHOOK_SECRET
    )
    response = await api.post("/v1/webhooks/stripe", content=garbage, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"].endswith("bad-event")


def signed_raw(event: object) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET)
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


def event_of(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": intent(str(uuid.uuid4()))},
    }
    return {**event, **changes}


@pytest.mark.parametrize(
    "event",
    [
        event_of(data={"object": [1, 2]}),
        event_of(data=[]),
        event_of(id=None),
        event_of(id={"nested": "object"}),
        event_of(id="evt_" + "x" * 300),
        event_of(id="evt_\x00"),
        event_of(type=7),
        event_of(type="payment_intent.\x00"),
        event_of(created="yesterday"),
        event_of(data={"object": {"id": {"not": "a string"}}}),
        event_of(data={"object": {"id": "pi_1", "metadata": ["booking_id"]}}),
        event_of(data={"object": {"id": "pi_1", "metadata": {"booking_id": 5}}}),
        event_of(data={"object": {"id": "pi_1", "last_payment_error": "declined"}}),
        event_of(type="charge.refunded", data={"object": {"payment_intent": ["pi_1"]}}),
    ],
    ids=[
        "object-list",
        "data-list",
        "id-null",
        "id-object",
        "id-300",
        "id-nul",
        "type-number",
        "type-nul",
        "created-text",
        "intent-id-object",
        "metadata-list",
        "metadata-number",
        "error-text",
        "charge-intent-list",
    ],
)
async def test_signed_events_of_odd_shapes_are_400_and_record_nothing(
    api: httpx.AsyncClient, db: async_sessionmaker, event: dict[str, object]
) -> None:
    body, headers = signed_raw(event)
    response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("bad-event")
    if isinstance(event["id"], str) and "\x00" not in event["id"]:
        assert await recorded(db, event["id"]) is None


async def test_odd_objects_of_types_we_do_not_follow_are_acknowledged(
    api: httpx.AsyncClient, db: async_sessionmaker
) -> None:
    event = event_of(type="customer.updated", data={"object": {"id": ["odd"], "metadata": 3}})
    body, headers = signed_raw(event)
    response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored-type")
    assert await recorded(db, str(event["id"])) is not None
