"""The largest booking the API accepts, every text at its maximum in mixed scripts, goes all the
way: receipt, confirmation email, CSV export, webhook out, refund with its credit note and its
email (issue 17, case 5: such a booking once wedged on its receipt)."""

import base64
import csv
import io
import time
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pypdf

from devstack.pay import pay
from tests.api.conftest import ADMIN
from tests.api.webhooks_out.helpers import wait_for
from tests.documents.maximal import (
    ATTENDEES,
    LONGEST_EMAIL,
    REASON_CHARS,
    REQUIREMENTS_CHARS,
    attendee_names,
    marker,
    text,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import wait_for_status
from tests.helpers.emails import emails_at_rest, emails_with
from tests.helpers.stack import Stack

Json = dict[str, Any]


def needs(n: int) -> str:
    return text("Needs", n, REQUIREMENTS_CHARS)


def flat(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split())


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return len(reader.pages), flat(" ".join(page.extract_text() for page in reader.pages))


async def largest_session(api: httpx.AsyncClient) -> str:
    starts = datetime.now(UTC) + timedelta(days=30)
    body = {
        "kind": "course",
        "title": text("Title"),
        "location": text("Location"),
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=8)).isoformat(),
        "capacity": ATTENDEES,
        "price_amount": 100,
        "currency": "GBP",
        "group_discount": None,
    }
    created = await api.post("/v1/sessions", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def endpoint(api: httpx.AsyncClient, receiver: WebhookReceiver) -> str:
    body = {"url": receiver.url("largest"), "events": ["booking.confirmed"]}
    created = await api.post("/v1/webhook-endpoints", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    receiver.trust("largest", created.json()["secret"])
    return str(created.json()["id"])


def attachment(sendgrid: FakeSendGrid, booking_id: str, kind: str, prefix: str) -> bytes:
    [request] = [
        r
        for r in sendgrid.requests
        if r.body.get("custom_args", {}).get("notification_key", "").startswith(booking_id)
        and r.body["custom_args"]["notification_key"].split(":")[1] == kind
    ]
    [to] = request.body["personalizations"][0]["to"]
    assert (to["email"], to["name"]) == (LONGEST_EMAIL, text("Customer"))
    [found] = [a for a in request.body["attachments"] if a["filename"].startswith(prefix)]
    return base64.b64decode(found["content"])


async def test_the_largest_booking_is_laid_out_sent_exported_and_refunded(stack: Stack) -> None:
    session_id = await largest_session(stack.api)
    with WebhookReceiver() as receiver:
        endpoint_id = await endpoint(stack.api, receiver)
        body = {
            "session_id": session_id,
            "quantity": ATTENDEES,
            "customer": {"name": text("Customer"), "email": LONGEST_EMAIL},
            "attendees": [
                {
                    "name": name,
                    "email": LONGEST_EMAIL,
                    "special_requirements": text("Needs", n, 1000),
                }
                for n, name in enumerate(attendee_names())
            ],
        }
        created = await stack.api.post(
            "/v1/bookings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert created.status_code == 201, created.text
        booking: Json = created.json()
        await pay(stack.stripe_client, booking["payment"]["payment_intent_id"])
        started = time.monotonic()
        await wait_for_status(stack.api, booking["id"], "CONFIRMED")
        assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=30) == [
            "confirmation"
        ]
        confirmed_in = time.monotonic() - started
        await wait_for(lambda: receiver.accepted("largest"), 1, within=30)
        await stack.api.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=ADMIN)
    [hook] = [
        r for r in receiver.accepted("largest") if r.body["data"]["booking"]["id"] == booking["id"]
    ]
    assert [a["name"] for a in hook.body["data"]["booking"]["attendees"]] == attendee_names()

    receipt = await stack.api.get(f"/v1/bookings/{booking['id']}/receipt.pdf")
    receipt_pages, found = pdf_text(receipt.content)
    assert receipt_pages > 1 and all(marker("Attendee", n) in found for n in range(ATTENDEES))
    assert receipt.content == attachment(stack.sendgrid, booking["id"], "confirmation", "receipt-")

    export = await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)
    [row] = list(csv.DictReader(io.StringIO(export.text.removeprefix("\ufeff"))))
    assert row["attendees"] == "; ".join(attendee_names())
    assert row["customer_name"] == text("Customer")

    reason = text("Reason", length=REASON_CHARS)
    refund = {"amount": 1000, "reason": reason}
    refunded = await stack.api.post(
        f"/v1/bookings/{booking['id']}/refunds", json=refund, headers=ADMIN
    )
    assert refunded.status_code == 200, refunded.text
    assert await emails_with(stack.sendgrid, booking["id"], "partly_refunded:1", within=30) == [
        "confirmation",
        "partly_refunded:1",
    ]
    attachment(stack.sendgrid, booking["id"], "partly_refunded", "credit-note-")
    note = await stack.api.get(f"/v1/bookings/{booking['id']}/credit-note.pdf")
    pages, found = pdf_text(note.content)
    assert pages > 1 and marker("Customer") in found
    print(f"confirmed and emailed in {confirmed_in:.1f} s; {receipt_pages} + {pages} pages")
