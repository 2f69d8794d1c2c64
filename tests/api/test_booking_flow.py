"""The booking lifecycle through the HTTP API, with the real worker, Temporal and localstripe."""

import uuid

import httpx
from temporalio.client import Client

from devstack.pay import DECLINED, pay
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.histories import keep_history


async def availability(api: httpx.AsyncClient, session_id: str) -> dict[str, int]:
    return (await api.get(f"/v1/sessions/{session_id}")).json()["availability"]  # type: ignore[no-any-return]


async def test_paid_booking_is_confirmed_with_a_reference(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id, quantity=5)
    assert booking["status"] == "PENDING_PAYMENT"
    assert (booking["amount_subtotal"], booking["discount"], booking["amount_total"]) == (
        37500,
        3750,
        33750,
    )
    assert booking["currency"] == "GBP"
    assert booking["payment"]["client_secret"].startswith(booking["payment"]["payment_intent_id"])
    assert (await availability(stack.api, session_id))["held"] == 5

    assert await pay(stack.stripe_client, booking["payment"]["payment_intent_id"]) == "succeeded"
    confirmed = await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    assert confirmed["reference"].startswith("RFT-")
    assert confirmed["confirmed_at"] is not None
    assert await availability(stack.api, session_id) == {
        "capacity": 12,
        "held": 0,
        "sold": 5,
        "available": 7,
    }
    await keep_history(stack.temporal, booking["id"], "one-step-payment-paid_group_booking")


async def test_hold_expires_and_gives_the_places_back(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12, hold_seconds=2)
    booking = await start_booking(stack.api, session_id, quantity=3)
    assert (await availability(stack.api, session_id))["held"] == 3

    expired = await wait_for_status(stack.api, booking["id"], "EXPIRED", within=10)
    assert expired["reference"] is None
    assert (await availability(stack.api, session_id))["available"] == 12
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
        booking["payment"]["payment_intent_id"]
    )
    assert intent.status == "canceled"
    await keep_history(stack.temporal, booking["id"], "hold_expired")


async def test_paid_just_before_expiry_without_a_webhook_is_confirmed(
    stack: Stack, localstripe_url: str
) -> None:
    """The expiry cancels the intent first; Stripe refuses because it succeeded: confirm."""
    session_id = await stack.new_session(capacity=12, hold_seconds=2)
    booking = await start_booking(stack.api, session_id)
    # Pay through a webhook-less path: the signal never comes, the expiry must find the money.
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{localstripe_url}/_config/webhooks/api",
            data={"url": "http://127.0.0.1:9/nowhere", "secret": "x"},
        )
        try:
            assert (
                await pay(stack.stripe_client, booking["payment"]["payment_intent_id"])
                == "succeeded"
            )
            confirmed = await wait_for_status(stack.api, booking["id"], "CONFIRMED", within=10)
        finally:
            await http.post(
                f"{localstripe_url}/_config/webhooks/api",
                data={"url": f"{stack.api_url}/v1/webhooks/stripe", "secret": "whsec_test_secret"},
            )
    assert confirmed["reference"]
    await keep_history(stack.temporal, booking["id"], "expiry_found_the_money")


async def test_cancel_before_payment_releases_and_cancels_the_intent(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id, quantity=2)
    response = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELLED"
    assert (await availability(stack.api, session_id))["available"] == 12
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
        booking["payment"]["payment_intent_id"]
    )
    assert intent.status == "canceled"

    again = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")  # a client retrying
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "CANCELLED"
    assert (await availability(stack.api, session_id))["available"] == 12
    await keep_history(stack.temporal, booking["id"], "cancelled_before_payment")


async def test_cancel_after_payment_refunds_through_stripe(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, quantity=2)
    intent_id = booking["payment"]["payment_intent_id"]

    response = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "REFUNDED"
    refunds = await stack.stripe_client.v1.refunds.list_async({"payment_intent": intent_id})
    assert [r.amount for r in refunds.data] == [15000]
    assert (await availability(stack.api, session_id))["available"] == 12
    await keep_history(stack.temporal, booking["id"], "refunded_after_cancel")


async def test_declined_card_keeps_the_booking_payable_then_it_is_paid(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id)
    intent_id = booking["payment"]["payment_intent_id"]
    # A failure event first (signed by us: localstripe cannot confirm again after a decline)...
    intent = (await stack.stripe_client.v1.payment_intents.retrieve_async(intent_id)).to_dict()
    failed = {**intent, "last_payment_error": {"message": "Your card was declined."}}
    body, headers = signed_event("payment_intent.payment_failed", failed)
    assert (await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)).json()[
        "outcome"
    ] == "signalled"
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()[
        "status"
    ] == "PENDING_PAYMENT"
    # ...then a real payment, and localstripe's own webhook.
    assert await pay(stack.stripe_client, intent_id) == "succeeded"
    await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    await keep_history(stack.temporal, booking["id"], "failed_then_paid")


async def test_a_real_decline_leaves_the_booking_pending(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id)
    result = await pay(stack.stripe_client, booking["payment"]["payment_intent_id"], card=DECLINED)
    assert result.startswith("declined")
    handle = stack.temporal.get_workflow_handle(f"booking-{booking['id']}")
    view = await eventually(
        lambda: handle.query("view"), lambda v: v["payment_failures"], within=5, what="a failure"
    )
    assert view["status"] == "PENDING_PAYMENT"
    assert view["payment_failures"]


async def confirm_sales(temporal: Client, booking_id: str, within: float = 10) -> int:
    """How many `confirm_sale` steps the booking's history records, once it records one (or
    `within` seconds have passed): the database turns CONFIRMED inside that step, before the
    workflow task that records it completes."""
    handle = temporal.get_workflow_handle(f"booking-{booking_id}")

    async def recorded() -> int:
        history = await handle.fetch_history()
        return sum(
            1
            for e in history.events
            if e.HasField("marker_recorded_event_attributes")
            and b"confirm_sale" in e.marker_recorded_event_attributes.SerializeToString()
        )

    return await eventually(recorded, within=within, every=0.2, what="a confirm_sale step")


async def test_duplicate_and_shuffled_events_make_one_transition(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id)
    intent_id = booking["payment"]["payment_intent_id"]
    await pay(stack.stripe_client, intent_id)
    intent = (await stack.stripe_client.v1.payment_intents.retrieve_async(intent_id)).to_dict()
    succeeded_id = f"evt_{uuid.uuid4().hex[:24]}"
    deliveries = [
        signed_event("payment_intent.succeeded", intent, succeeded_id),
        signed_event("payment_intent.processing", intent),
        signed_event("payment_intent.succeeded", intent, succeeded_id),
        signed_event("payment_intent.payment_failed", intent, at=intent["created"]),
        signed_event("payment_intent.succeeded", intent, succeeded_id),
    ]
    for body, headers in deliveries:
        response = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 200
    confirmed = await wait_for_status(stack.api, booking["id"], "CONFIRMED")

    assert await confirm_sales(stack.temporal, booking["id"]) == 1
    again = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert again["reference"] == confirmed["reference"]
    await keep_history(stack.temporal, booking["id"], "duplicate_and_shuffled_events")
