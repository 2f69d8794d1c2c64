"""Receipts and emails through the whole system: workflow, activities, SendGrid, the API."""

import asyncio
import io
from datetime import timedelta

import pypdf

from devstack.pay import pay
from tests.conftest import ADMIN_KEY
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.emails import emails_at_rest, emails_for, emails_with
from tests.helpers.stack import Stack
from tests.histories import keep_history

DAY = timedelta(days=1)


async def test_confirmed_booking_has_a_receipt_and_a_confirmation_email(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    pending = await start_booking(stack.api, session_id, 5)
    early = await stack.api.get(f"/v1/bookings/{pending['id']}/receipt.pdf")
    assert early.status_code == 404 and early.json()["type"].endswith("document-not-found")

    await pay(stack.stripe_client, pending["payment"]["payment_intent_id"])
    booking = await wait_for_status(stack.api, pending["id"], "CONFIRMED")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "confirmation"
    ]
    receipt = await stack.api.get(f"/v1/bookings/{booking['id']}/receipt.pdf")
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/pdf"
    text = " ".join(pypdf.PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text().split())
    assert booking["reference"] in text and "£337.50" in text and "4242" in text


async def test_sendgrid_failing_twice_still_sends_one_email(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    booking = await start_booking(stack.api, session_id)
    stack.sendgrid.fail_next(2, 500)
    await pay(stack.stripe_client, booking["payment"]["payment_intent_id"])
    await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=15) == [
        "confirmation"
    ]


async def test_cancel_after_payment_sends_a_credit_note(stack: Stack) -> None:
    booking = await paid_booking(
        stack.api, stack.stripe_client, await stack.new_session(capacity=12), 2
    )
    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).json()[
        "status"
    ] == "REFUNDED"
    note = await stack.api.get(f"/v1/bookings/{booking['id']}/credit-note.pdf")
    assert note.status_code == 200
    text = " ".join(pypdf.PdfReader(io.BytesIO(note.content)).pages[0].extract_text().split())
    assert "-£150.00" in text
    assert await emails_with(stack.sendgrid, booking["id"], "refunded") == [
        "confirmation",
        "refunded",
    ]
    refunded = next(
        r
        for r in stack.sendgrid.requests
        if r.body["custom_args"]["notification_key"] == f"{booking['id']}:refunded"
    )
    (pdf,) = [a for a in refunded.body["attachments"] if a["type"] == "application/pdf"]
    assert pdf["filename"].startswith("credit-note-CN-")
    await keep_history(stack.temporal, booking["id"], "refunded_with_credit_note")


async def test_expiry_and_cancellation_tell_the_customer(stack: Stack) -> None:
    expiring = await start_booking(stack.api, await stack.new_session(capacity=12, hold_seconds=1))
    cancelled = await start_booking(stack.api, await stack.new_session(capacity=12))
    await stack.api.post(f"/v1/bookings/{cancelled['id']}/cancel")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, cancelled["id"], within=10) == [
        "cancelled"
    ]
    await wait_for_status(stack.api, expiring["id"], "EXPIRED")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, expiring["id"], within=10) == [
        "hold_expired"
    ]
    await keep_history(stack.temporal, expiring["id"], "expired_with_email")


async def test_reminder_comes_a_day_before_and_not_after_cancellation(stack: Stack) -> None:
    # Sessions starting just over a day from now: the reminder timer fires in seconds.
    kept = await paid_booking(
        stack.api,
        stack.stripe_client,
        await stack.new_session(starts_in=DAY + timedelta(seconds=6)),
    )
    dropped = await paid_booking(
        stack.api,
        stack.stripe_client,
        await stack.new_session(starts_in=DAY + timedelta(seconds=6)),
    )
    await stack.api.post(f"/v1/bookings/{dropped['id']}/cancel")
    assert await emails_with(stack.sendgrid, kept["id"], "reminder") == ["confirmation", "reminder"]
    await asyncio.sleep(0.5)
    assert "reminder" not in emails_for(stack.sendgrid, dropped["id"])
    await keep_history(stack.temporal, kept["id"], "confirmed_and_reminded")


async def test_cancelling_a_session_cancels_and_refunds_its_bookings(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    confirmed = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    pending = await start_booking(stack.api, session_id, 1)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await stack.api.post(f"/v1/sessions/{session_id}/cancel")).status_code == 403
    response = await stack.api.post(f"/v1/sessions/{session_id}/cancel", headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["bookings"] == {"REFUNDED": 1, "CANCELLED": 1}
    assert (result["finished"], result["total"], result["done"], result["failed"]) == (
        True,
        2,
        2,
        {},
    )
    assert result["session"]["status"] == "cancelled"
    assert result["session"]["availability"]["available"] == 12
    refused = await stack.api.post(
        "/v1/bookings",
        json={
            "session_id": session_id,
            "quantity": 1,
            "customer": {"name": "Late", "email": "late@example.com"},
        },
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("session-not-bookable")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, pending["id"], within=10) == [
        "session_cancelled"
    ]
    assert await emails_with(stack.sendgrid, confirmed["id"], "session_cancelled") == [
        "confirmation",
        "session_cancelled",
    ]
