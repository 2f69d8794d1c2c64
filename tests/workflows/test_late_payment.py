"""Expiry while Stripe is still processing, then money that arrives after the hold ended.

localstripe has no "processing" state, so this test replaces one activity by name (the
cancellation, which then reports "processing"); everything else is real.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import stripe
from temporalio import activity
from temporalio.client import Client

from api.booking_workflows import start_booking_workflow
from core.settings import Settings
from devstack.pay import pay
from models.booking import BookingRequest
from models.payments import PaymentIntentInfo, PaymentState
from tests.api.helpers import wait_for_status
from tests.conftest import SessionFactory
from tests.histories import keep_history
from worker import booking_activities, build_worker


@pytest.fixture
async def processing_settings(
    settings: Settings, temporal: Client, stripe_client: stripe.StripeClient
) -> AsyncIterator[Settings]:
    """A worker on its own task queue whose Stripe never finishes processing a cancellation."""
    own = settings.model_copy(update={"task_queue": f"processing-{uuid.uuid4()}"})

    @activity.defn(name="cancel_payment_intent")
    async def still_processing(payment_intent_id: str) -> PaymentIntentInfo:
        intent = await stripe_client.v1.payment_intents.retrieve_async(payment_intent_id)
        return PaymentIntentInfo(intent.id, PaymentState.PROCESSING, intent.amount, 0, "GBP")

    async with AsyncExitStack() as stack:
        activities = [
            a
            for a in booking_activities(own, stack)
            if a.__temporal_activity_definition.name != "cancel_payment_intent"  # type: ignore[attr-defined]
        ]
        async with build_worker(temporal, own, [*activities, still_processing]):
            yield own


async def test_processing_extends_the_hold_then_late_money_is_refunded(
    processing_settings: Settings,
    temporal: Client,
    new_session: SessionFactory,
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
) -> None:
    session_id = await new_session(capacity=12, hold_seconds=1)
    view = await start_booking_workflow(
        temporal,
        processing_settings,
        BookingRequest(
            booking_id=str(uuid.uuid4()),
            session_id=session_id,
            customer_name="Ada",
            customer_email="ada@example.com",
            quantity=2,
            request_fingerprint="late",
        ),
    )
    first_deadline = view.hold_expires_at

    expired = await wait_for_status(api, view.id, "EXPIRED", within=15)
    assert expired["status_reason"] == "the hold ended before payment"
    extended = (await api.get(f"/v1/bookings/{view.id}")).json()["hold_expires_at"]
    assert extended > first_deadline.isoformat().replace("+00:00", "Z")  # it was extended
    session = (await api.get(f"/v1/sessions/{session_id}")).json()
    assert session["availability"]["available"] == 12

    # The customer's payment goes through after all; localstripe sends the webhook.
    assert view.payment_intent_id is not None
    assert await pay(stripe_client, view.payment_intent_id) == "succeeded"
    for _ in range(100):
        booking = (await api.get(f"/v1/bookings/{view.id}")).json()
        if booking["status_reason"] == "a late payment was refunded":
            break
        await asyncio.sleep(0.1)
    assert booking["status"] == "EXPIRED"
    assert booking["status_reason"] == "a late payment was refunded"
    refunds = await stripe_client.v1.refunds.list_async({"payment_intent": view.payment_intent_id})
    refunded = [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data]
    assert refunded == [(15000, "late-payment")]
    await keep_history(temporal, view.id, "late_payment_refunded")
