"""Times where the session happens, through the whole system: the API keeps the session's zone,
the confirmation email, receipt and .ics show its local time, and a refund's email carries the
.ics that makes calendars drop the event."""

import base64
import io
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pypdf

from devstack.pay import pay
from tests.conftest import ADMIN_KEY
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.emails import emails_at_rest, emails_with
from tests.helpers.stack import Stack

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LONDON = ZoneInfo("Europe/London")


def summer_course(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "course",
        "title": "Sea Survival",
        "location": f"Plymouth {uuid.uuid4().hex[:6]}",
        # 08:00 UTC in July is 09:00 on London's clocks (BST).
        "starts_at": "2031-07-03T08:00:00Z",
        "ends_at": "2031-07-03T16:00:00Z",
        "capacity": 4,
        "price_amount": 7500,
        "currency": "GBP",
        "time_zone": "Europe/London",
        **extra,
    }


def _email(sendgrid: FakeSendGrid, booking_id: str, kind: str) -> dict[str, Any]:
    return next(
        r.body
        for r in sendgrid.requests
        if r.body["custom_args"]["notification_key"] == f"{booking_id}:{kind}"
    )


def _calendar(email: dict[str, Any]) -> icalendar.Calendar:
    (ics,) = [a for a in email["attachments"] if a["type"] == "text/calendar"]
    return icalendar.Calendar.from_ical(base64.b64decode(ics["content"]))


async def test_a_session_keeps_its_zone_and_an_unknown_zone_is_refused(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/v1/sessions", json=summer_course(), headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["time_zone"] == "Europe/London"
    read = await api.get(f"/v1/sessions/{created.json()['id']}")
    assert read.json()["time_zone"] == "Europe/London"
    null = await api.post("/v1/sessions", json=summer_course(time_zone=None), headers=ADMIN)
    assert null.status_code == 422
    body = summer_course()
    del body["time_zone"]
    assert (await api.post("/v1/sessions", json=body, headers=ADMIN)).json()["time_zone"] == "UTC"

    for zone in ["Mars/Olympus_Mons", "europe/london", "../etc/passwd", "localtime", ""]:
        refused = await api.post("/v1/sessions", json=summer_course(time_zone=zone), headers=ADMIN)
        assert refused.status_code == 422, zone
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"].endswith("invalid-request")
        assert "body.time_zone" in [error["field"] for error in problem["errors"]], problem


async def test_confirmation_and_refund_show_local_time_and_the_calendar_follows(
    stack: Stack,
) -> None:
    created = await stack.api.post("/v1/sessions", json=summer_course(), headers=ADMIN)
    pending = await start_booking(stack.api, created.json()["id"], 1)
    await pay(stack.stripe_client, pending["payment"]["payment_intent_id"])
    booking = await wait_for_status(stack.api, pending["id"], "CONFIRMED")
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "confirmation"
    ]

    confirmation = _email(stack.sendgrid, booking["id"], "confirmation")
    text = next(c["value"] for c in confirmation["content"] if c["type"] == "text/plain")
    assert "Thu 3 Jul 2031, 09:00 BST" in text and "Thu 3 Jul 2031, 17:00 BST" in text
    calendar = _calendar(confirmation)
    assert str(calendar["METHOD"]) == "PUBLISH"
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/London"
    (event,) = calendar.events
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.start == datetime(2031, 7, 3, 9, 0, tzinfo=LONDON)
    assert event.start == datetime(2031, 7, 3, 8, 0, tzinfo=UTC)
    assert event.end == datetime(2031, 7, 3, 16, 0, tzinfo=UTC)
    assert str(event["STATUS"]) == "CONFIRMED"

    receipt = await stack.api.get(f"/v1/bookings/{booking['id']}/receipt.pdf")
    page = pypdf.PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text()
    assert "Thu 3 Jul 2031, 09:00 BST" in " ".join(page.split())

    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).json()[
        "status"
    ] == "REFUNDED"
    await emails_with(stack.sendgrid, booking["id"], "refunded")
    refunded = _email(stack.sendgrid, booking["id"], "refunded")
    cancel = _calendar(refunded)
    assert str(cancel["METHOD"]) == "CANCEL"
    (dropped,) = cancel.events
    assert str(dropped["UID"]) == str(event["UID"])
    assert dropped.sequence > event.sequence == 0
    assert str(dropped["STATUS"]) == "CANCELLED"
    assert dropped.start == event.start
    assert dropped["DTSTART"].params["TZID"] == "Europe/London"
    pdf, ics = sorted(refunded["attachments"], key=lambda a: a["type"])
    assert pdf["filename"].startswith("credit-note-CN-") and ics["filename"].endswith(".ics")


async def test_a_booking_cancelled_before_payment_gets_no_calendar_file(stack: Stack) -> None:
    created = await stack.api.post("/v1/sessions", json=summer_course(), headers=ADMIN)
    booking = await start_booking(stack.api, created.json()["id"], 1)
    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).json()[
        "status"
    ] == "CANCELLED"
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "cancelled"
    ]
    cancelled = _email(stack.sendgrid, booking["id"], "cancelled")
    assert "Thu 3 Jul 2031, 09:00 BST" in cancelled["content"][0]["value"]
    # No calendar ever held it: nothing to drop.
    assert not cancelled.get("attachments")


async def test_a_cancelled_session_drops_the_event_from_calendars_that_hold_it(
    stack: Stack,
) -> None:
    created = await stack.api.post("/v1/sessions", json=summer_course(), headers=ADMIN)
    session_id = created.json()["id"]
    confirmed = await paid_booking(stack.api, stack.stripe_client, session_id, 1)
    pending = await start_booking(stack.api, session_id, 1)
    cancelled = await stack.api.post(f"/v1/sessions/{session_id}/cancel", headers=ADMIN)
    assert cancelled.json()["bookings"] == {"REFUNDED": 1, "CANCELLED": 1}, cancelled.text
    await emails_with(stack.sendgrid, confirmed["id"], "session_cancelled")
    published = _calendar(_email(stack.sendgrid, confirmed["id"], "confirmation"))
    dropped = _calendar(_email(stack.sendgrid, confirmed["id"], "session_cancelled"))
    assert str(dropped["METHOD"]) == "CANCEL"
    assert str(dropped.events[0]["UID"]) == str(published.events[0]["UID"])
    assert await emails_at_rest(stack.sendgrid, stack.temporal, pending["id"], within=10) == [
        "session_cancelled"
    ]
    assert not _email(stack.sendgrid, pending["id"], "session_cancelled").get("attachments")
