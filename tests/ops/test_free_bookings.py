"""Free bookings (a session priced 0, or a group discount of 100 %): confirmed at once without
Stripe, a receipt for 0 and the confirmation email; cancelled later without any refund."""

import io
import json

import httpx
import pypdf
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from messages.booking import booking_workflow_id
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import course, start_booking
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.emails import emails_at_rest, emails_with
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.histories import keep_history

NO_PAYMENT = {
    "provider": "stripe",
    "payment_intent_id": None,
    "client_secret": None,
    "stripe_account_id": None,
}


async def activities_of(temporal: Client, booking_id: str) -> list[str]:
    """The activity types the booking's workflow ran, regular and local, in order."""
    history = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).fetch_history()
    names = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            data = event.marker_recorded_event_attributes.details.get("data")
            for payload in data.payloads if data else []:
                names.append(json.loads(payload.data).get("activity_type", ""))
    return [name for name in names if name]


async def receipt_text(api: httpx.AsyncClient, booking_id: str, within: float = 10) -> str:
    receipt = await eventually(
        lambda: api.get(f"/v1/bookings/{booking_id}/receipt.pdf"),
        lambda answer: answer.status_code != 404,
        within=within,
        what="a receipt",
    )
    assert receipt.status_code == 200
    return " ".join(pypdf.PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text().split())


async def test_a_free_booking_is_confirmed_without_stripe_and_cancelled_without_a_refund(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=4, price_amount=0)
    booking = await start_booking(stack.api, session_id, 2)

    assert booking["status"] == "CONFIRMED" and booking["reference"]
    assert (booking["amount_total"], booking["payment"]) == (0, NO_PAYMENT)
    assert "Free: no payment was due" in await receipt_text(stack.api, booking["id"])
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "confirmation"
    ]
    session = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    assert session["availability"] == {"capacity": 4, "held": 0, "sold": 2, "available": 2}
    world = World([session_id], {"free": booking})
    await at_rest(stack.db, world)
    assert (await run_check(world)).violations == []

    cancel = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"})

    assert cancel.status_code == 200, cancel.text
    cancelled = cancel.json()
    assert (cancelled["status"], cancelled["status_reason"]) == ("CANCELLED", "ill")
    assert cancelled["payment"] == NO_PAYMENT
    assert await emails_with(stack.sendgrid, booking["id"], "cancelled") == [
        "confirmation",
        "cancelled",
    ]
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}/credit-note.pdf")).status_code == 404
    session = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    assert session["availability"]["available"] == 4
    ran = await activities_of(stack.temporal, booking["id"])
    assert "confirm_sale" in ran and "release_places" in ran
    assert not [name for name in ran if "payment_intent" in name or "refund" in name], ran
    await at_rest(stack.db, world)
    assert (await run_check(world)).violations == []
    await keep_history(stack.temporal, booking["id"], "free-bookings-confirmed_then_cancelled")


async def test_a_group_discounted_to_nothing_is_free_and_a_single_place_is_paid(
    stack: Stack,
) -> None:
    body = course(price_amount=2500, group_discount={"min_quantity": 2, "percent": 100})
    session_id = (await stack.api.post("/v1/sessions", json=body, headers=ADMIN)).json()["id"]

    group = await start_booking(stack.api, session_id, 2)
    single = await start_booking(stack.api, session_id, 1)

    assert (group["status"], group["amount_subtotal"], group["discount"]) == (
        "CONFIRMED",
        5000,
        5000,
    )
    assert (group["amount_total"], group["payment"]) == (0, NO_PAYMENT)
    assert "Total £0.00" in await receipt_text(stack.api, group["id"])
    assert single["status"] == "PENDING_PAYMENT" and single["payment"]["client_secret"]
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
        single["payment"]["payment_intent_id"]
    )
    assert intent.amount == 2500
    await keep_history(stack.temporal, group["id"], "free-bookings-group_discounted_to_nothing")
