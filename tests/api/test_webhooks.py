"""The Stripe webhook endpoint: signatures, unknown bookings, unhandled types."""

import time
import uuid

import httpx
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.tables import StripeEvent
from tests.api.helpers import signed_event, start_booking
from tests.conftest import WEBHOOK_SECRET, SessionFactory


async def recorded(db: async_sessionmaker[AsyncSession], event_id: str) -> StripeEvent | None:
    async with db() as s:
        return await s.scalar(select(StripeEvent).where(StripeEvent.id == event_id))


def intent(booking_id: str | None = None) -> dict[str, object]:
    return {
        "id": f"pi_{uuid.uuid4().hex[:14]}",
        "object": "payment_intent",
        "metadata": {"booking_id": booking_id} if booking_id else {},
    }


async def test_bad_missing_or_stale_signatures_are_400_and_signal_nothing(
    api: httpx.AsyncClient, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    booking = await start_booking(api, await new_session(capacity=12))
    pi = {"id": booking["payment"]["payment_intent_id"], "metadata": {"booking_id": booking["id"]}}
    attempts = {
        "wrong secret": signed_event("payment_intent.succeeded", pi, secret="whsec_wrong"),
        "stale": signed_event("payment_intent.succeeded", pi, at=int(time.time()) - 301),
    }
    body, headers = signed_event("payment_intent.succeeded", pi)
    attempts["missing"] = (body, {"Content-Type": "application/json"})
    attempts["tampered"] = (body.replace(b"succeeded", b"xucceeded"), headers)
    for name, (body, headers) in attempts.items():
        response = await api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["type"].endswith("bad-signature"), name
    async with db() as s:
        assert not (
            await s.scalars(
                select(StripeEvent).where(StripeEvent.booking_id == uuid.UUID(booking["id"]))
            )
        ).all()
    assert (await api.get(f"/v1/bookings/{booking['id']}")).json()["status"] == "PENDING_PAYMENT"


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
