"""Attendance and certificates (issue 23), against the real servers: a session's end records
each place attended (checked in) or a no-show, with its webhook; a certifying session's attended
places get a certificate each (numbered, emailed once, names in any script); anyone verifies a
certificate by its code and forged codes find nothing; an organiser corrects attendance within
the window (a place newly attended is certified once, one corrected to a no-show voids its
certificate) and not outside it (409); a reissue emails the same number again; erasing the
customer erases the certificates."""

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from core.certificates import certificate_code
from models.tables import Attendance, Certificate, Organisation, Session
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.api.webhooks_out.helpers import about
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import erase_at_rest
from tests.helpers.door import code, confirmed, ending_soon, scan
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import handle_of

NAMES = ["Ελένη Παπαδοπούλου", "Ольга Иванова", "محمد علي"]


async def _ended_session(stack: Stack, certifying: bool = True) -> tuple[str, datetime]:
    """A free session that starts in three seconds and lasts one, and its end."""
    title = "Πρώτες βοήθειες: First Aid"
    return await ending_soon(stack, 3, certifying=certifying, title=title)


async def _check_in(stack: Stack, session_id: str, booking_id: str, index: int) -> None:
    response = await scan(stack, session_id, code(stack, session_id, booking_id, index), ADMIN)
    assert response.status_code == 200, response.text


async def _completed(stack: Stack, booking_id: str) -> None:
    view = await asyncio.wait_for(handle_of(stack.temporal, booking_id).result(), 20)
    assert view.status == "COMPLETED"


def _certificate_emails(stack: Stack, booking_id: str) -> dict[str, list[dict[str, Any]]]:
    """The booking's certificate emails by notification key."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in stack.sendgrid.requests:
        key = r.body.get("custom_args", {}).get("notification_key", "")
        if key.startswith(f"{booking_id}:certificate:"):
            found.setdefault(key.removeprefix(f"{booking_id}:"), []).append(r.body)
    return found


async def _emails(stack: Stack, booking_id: str, keys: set[str]) -> dict[str, list[Any]]:
    async def probe() -> dict[str, list[Any]]:
        return _certificate_emails(stack, booking_id)

    return await eventually(
        probe, lambda found: set(found) >= keys, within=20, what=f"certificate emails {keys}"
    )


async def _certificates(stack: Stack, booking_id: str) -> dict[int, Certificate]:
    async with stack.db() as s:
        rows = await s.scalars(
            select(Certificate).where(Certificate.booking_id == uuid.UUID(booking_id))
        )
        return {c.attendee_index: c for c in rows}


@pytest.fixture
async def public(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The API with no key at all."""
    async with httpx.AsyncClient(base_url=str(stack.api.base_url)) as client:
        yield client


async def test_the_end_records_attendance_and_certifies_each_attended_place_once(
    stack: Stack, public: httpx.AsyncClient
) -> None:
    session_id, ends_at = await _ended_session(stack)
    attendees = [{"name": name} for name in NAMES]
    group = await confirmed(stack, session_id, 3, attendees=attendees)
    alone = await confirmed(stack, session_id, 1, attendees=[{"name": "李小龙"}])
    await _check_in(stack, session_id, group["id"], 0)
    await _check_in(stack, session_id, group["id"], 2)
    with WebhookReceiver() as receiver:
        endpoint = {"url": receiver.url("end"), "events": ["attendee.no_show"]}
        created = await stack.api.post("/v1/webhook-endpoints", json=endpoint, headers=ADMIN)
        assert created.status_code == 201, created.text
        receiver.trust("end", created.json()["secret"])
        try:
            await asyncio.gather(_completed(stack, group["id"]), _completed(stack, alone["id"]))
            [no_show] = await eventually(
                lambda: asyncio.sleep(0, about(receiver.accepted("end"), group["id"])),
                within=20,
                what="the attendee.no_show webhook",
            )
            await asyncio.sleep(0.5)  # a second no-show event would be in by now
            alone_events = about(receiver.accepted("end"), alone["id"])
            assert len(about(receiver.accepted("end"), group["id"])) == 1
        finally:
            await stack.api.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers=ADMIN)
    assert datetime.now(UTC) >= ends_at
    assert no_show.body["type"] == "attendee.no_show"
    assert no_show.body["data"]["attendee"] == {"index": 1, "name": NAMES[1], "attended": False}
    assert [e.body["data"]["attendee"]["index"] for e in alone_events] == [0]  # not checked in

    read = await stack.api.get(f"/v1/bookings/{group['id']}/attendance", headers=ADMIN)
    assert read.status_code == 200, read.text
    places = read.json()["places"]
    assert [(p["attendee_name"], p["attended"]) for p in places] == [
        (NAMES[0], True),
        (NAMES[1], False),
        (NAMES[2], True),
    ]
    assert read.json()["recorded"] is True
    assert places[1]["certificate"] is None

    # One certificate and one email per attended place, whatever came twice.
    emails = await _emails(stack, group["id"], {"certificate:0", "certificate:2"})
    await asyncio.sleep(0.5)
    assert {key: len(sent) for key, sent in _certificate_emails(stack, group["id"]).items()} == {
        "certificate:0": 1,
        "certificate:2": 1,
    }
    assert _certificate_emails(stack, alone["id"]) == {}
    certificates = await _certificates(stack, group["id"])
    assert sorted(certificates) == [0, 2]
    async with stack.db() as s:
        organisation = await s.get_one(Organisation, DEFAULT_ORGANISATION_ID)
    pattern = rf"{organisation.reference_prefix}-C-{ends_at.year}-\d{{6}}"
    assert all(re.fullmatch(pattern, c.number) for c in certificates.values())
    assert certificates[0].number != certificates[2].number
    [attachment] = emails["certificate:0"][0]["attachments"]
    assert attachment["filename"] == f"certificate-{certificates[0].number}.pdf"
    assert base64.b64decode(attachment["content"]) == certificates[0].pdf
    assert NAMES[0] in emails["certificate:0"][0]["content"][0]["value"]

    # Anyone verifies a certificate by its code, and learns only that.
    keys = stack.settings.ticket_signing_keys
    genuine = certificate_code(certificates[2].id, keys)
    verified = await public.get(f"/v1/certificates/{genuine}")
    assert verified.status_code == 200, verified.text
    assert verified.json() == {
        "valid": True,
        "attendee_name": NAMES[2],
        "course_title": "Πρώτες βοήθειες: First Aid",
    }
    forged = [
        genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        certificate_code(uuid.uuid4(), keys),  # signed, of no certificate
        certificate_code(certificates[2].id, ["a forger's key"]),
        code(stack, session_id, group["id"], 2),  # a ticket's code
        "A" * 44,
    ]
    for attempt in forged:
        refused = await public.get(f"/v1/certificates/{attempt}")
        assert refused.status_code == 404, (attempt, refused.text)
        assert refused.json()["type"].endswith("certificate-not-found")
        assert NAMES[2] not in refused.text


async def test_corrections_within_the_window_and_not_after(
    stack: Stack, public: httpx.AsyncClient
) -> None:
    session_id, _ = await _ended_session(stack)
    email = f"{uuid.uuid4().hex}@example.com"  # erased at the end: this test's customer alone
    attendees = [{"name": n} for n in NAMES[:2]]
    customer = {"name": "Ada Lovelace", "email": email}
    booking = await confirmed(stack, session_id, 2, attendees=attendees, customer=customer)
    path = f"/v1/bookings/{booking['id']}/attendance"
    early = await stack.api.patch(
        path, json={"places": [{"attendee_index": 0, "attended": True}]}, headers=ADMIN
    )
    assert early.status_code == 409, early.text  # recorded at the session's end, not before
    assert early.json()["type"].endswith("attendance-not-correctable")
    await _check_in(stack, session_id, booking["id"], 0)
    await _completed(stack, booking["id"])
    await _emails(stack, booking["id"], {"certificate:0"})

    # Place 2 came after all: attended, and certified once however often it is said.
    for _ in range(2):
        corrected = await stack.api.patch(
            path, json={"places": [{"attendee_index": 1, "attended": True}]}, headers=ADMIN
        )
        assert corrected.status_code == 200, corrected.text
        assert [p["attended"] for p in corrected.json()["places"]] == [True, True]
    await _emails(stack, booking["id"], {"certificate:0", "certificate:1"})
    # Place 1 did not stay: a no-show, its certificate void.
    voided = await stack.api.patch(
        path, json={"places": [{"attendee_index": 0, "attended": False}]}, headers=ADMIN
    )
    assert voided.status_code == 200, voided.text
    certificates = await _certificates(stack, booking["id"])
    first = certificate_code(certificates[0].id, stack.settings.ticket_signing_keys)
    assert (await public.get(f"/v1/certificates/{first}")).json()["valid"] is False
    assert voided.json()["places"][0]["certificate"]["valid"] is False
    async with stack.db() as s:
        row = await s.get_one(Attendance, (uuid.UUID(booking["id"]), 0))
        assert (row.attended, row.corrections) == (False, 1)

    # A reissue emails the same certificate again, once.
    reissued = await stack.api.post(
        f"/v1/bookings/{booking['id']}/certificates/1/reissue", headers=ADMIN
    )
    assert reissued.status_code == 202, reissued.text
    assert reissued.json() == {"number": certificates[1].number, "reissue": 1}
    emails = await _emails(stack, booking["id"], {"certificate:1:1"})
    [attachment] = emails["certificate:1:1"][0]["attachments"]
    assert attachment["filename"] == f"certificate-{certificates[1].number}.pdf"
    await asyncio.sleep(0.5)
    sent = _certificate_emails(stack, booking["id"])
    assert {key: len(bodies) for key, bodies in sent.items()} == {
        "certificate:0": 1,
        "certificate:1": 1,
        "certificate:1:1": 1,
    }

    # Eight days after the end (the window is seven): refused, nothing changed.
    async with stack.db.begin() as s:
        await s.execute(
            update(Session)
            .where(Session.id == uuid.UUID(session_id))
            .values(
                starts_at=Session.starts_at - timedelta(days=8),
                ends_at=Session.ends_at - timedelta(days=8),
            )
        )
    late = await stack.api.patch(
        path, json={"places": [{"attendee_index": 0, "attended": True}]}, headers=ADMIN
    )
    assert late.status_code == 409, late.text
    assert late.json()["type"].endswith("attendance-not-correctable")
    after = await stack.api.get(path, headers=ADMIN)
    assert [p["attended"] for p in after.json()["places"]] == [False, True]

    # Erasing the customer erases the certificates that name the attendees.
    second = certificate_code(certificates[1].id, stack.settings.ticket_signing_keys)
    assert (await public.get(f"/v1/certificates/{second}")).status_code == 200
    await erase_at_rest(stack.api, email, booking["id"])
    assert (await public.get(f"/v1/certificates/{second}")).status_code == 404
