"""At the door (issue 23): a ticket's QR code read by zbar from the confirmation's PDF checks its
attendee in once (the row and the booking's history), repeats and 20 concurrent scans find it
done, forged, foreign and unconfirmed codes are refused with their reason, offline batches apply
in scan order, the door list reads as JSON and CSV, and door keys reach nothing else."""

import asyncio
import base64
import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.enums import Role
from core.tickets import Ticket, sign
from messages.booking import booking_workflow_id
from models.tables import CheckIn
from store.api_keys import create_key
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN, CLIENT
from tests.api.webhooks_out.helpers import about
from tests.conftest import OTHER_ADMIN_KEY, OTHER_ORGANISATION_ID
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import booking_body, wait_for_status
from tests.helpers.door import book, code, confirmed, scan
from tests.helpers.polling import eventually
from tests.helpers.qr import qr_codes_of_pdf
from tests.helpers.stack import Stack
from workflows.booking import BookingWorkflow


@pytest.fixture
async def door(stack: Stack) -> AsyncIterator[dict[str, str]]:
    """A door key of the default organisation, as headers."""
    async with stack.db.begin() as s:
        _, secret = await create_key(
            s, DEFAULT_ORGANISATION_ID, Role.DOOR, "front door", stack.settings.api_key_pepper
        )
    yield {"Authorization": f"Bearer {secret}"}


async def ticket_pdfs(stack: Stack, booking_id: str) -> list[bytes]:
    def confirmation() -> list[dict[str, Any]]:
        key = f"{booking_id}:confirmation"
        return [
            r.body
            for r in stack.sendgrid.requests
            if r.body.get("custom_args", {}).get("notification_key") == key
        ]

    [email] = await eventually(lambda: asyncio.sleep(0, confirmation()), what="a confirmation")
    attachments = sorted(email["attachments"], key=lambda a: a["filename"])
    return [
        base64.b64decode(a["content"]) for a in attachments if a["filename"].startswith("ticket-")
    ]


async def test_a_ticket_read_by_zbar_checks_in_once_and_the_history_shows_it(
    stack: Stack, door: dict[str, str], tmp_path: Path
) -> None:
    session_id = await stack.new_session(price_amount=0)
    attendees = [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}]
    booking = await confirmed(stack, session_id, 2, attendees=attendees)
    first, second = await ticket_pdfs(stack, booking["id"])
    [ticket_code] = qr_codes_of_pdf(second, tmp_path)

    checked = await scan(stack, session_id, ticket_code, door)
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["status"] == "checked_in" and body["attendee_name"] == "Charles Babbage"
    assert (body["attendee_index"], body["booking_reference"]) == (1, booking["reference"])

    again = await scan(stack, session_id, ticket_code, ADMIN)  # an admin key may scan too
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "already_checked_in"
    assert again.json()["checked_in_at"] == body["checked_in_at"]
    assert "Charles Babbage: already checked in at " in again.json()["message"]

    handle = stack.temporal.get_workflow_handle(booking_workflow_id(booking["id"]))
    [note] = await handle.query(BookingWorkflow.check_ins)
    assert note.attendee_index == 1
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in (await handle.fetch_history()).events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals == ["checked_in", "checked_in"]  # each scan tells; the first is kept
    [first_code] = qr_codes_of_pdf(first, tmp_path)
    assert first_code == code(stack, session_id, booking["id"], 0)


async def test_twenty_concurrent_scans_check_in_once(stack: Stack, door: dict[str, str]) -> None:
    session_id = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 1)
    ticket_code = code(stack, session_id, booking["id"])
    with WebhookReceiver() as receiver:
        endpoint = {"url": receiver.url("door"), "events": ["attendee.checked_in"]}
        created = await stack.api.post("/v1/webhook-endpoints", json=endpoint, headers=ADMIN)
        assert created.status_code == 201, created.text
        receiver.trust("door", created.json()["secret"])
        try:
            answers = await asyncio.gather(
                *[scan(stack, session_id, ticket_code, door) for _ in range(20)]
            )
            [event] = await eventually(
                lambda: asyncio.sleep(0, about(receiver.accepted("door"), booking["id"])),
                what="the attendee.checked_in webhook",
            )
        finally:
            await stack.api.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers=ADMIN)
    assert event.body["type"] == "attendee.checked_in"
    assert event.body["data"]["attendee"]["name"] == "Ada Lovelace"
    assert {a.status_code for a in answers} == {200}
    outcomes = sorted(a.json()["status"] for a in answers)
    assert outcomes == ["already_checked_in"] * 19 + ["checked_in"]
    assert len({a.json()["checked_in_at"] for a in answers}) == 1
    async with stack.db() as s:
        rows = await s.scalar(
            select(func.count()).where(CheckIn.booking_id == uuid.UUID(booking["id"]))
        )
    assert rows == 1


async def test_forged_foreign_and_unconfirmed_codes_are_refused_with_the_reason(
    stack: Stack, door: dict[str, str]
) -> None:
    session_id = await stack.new_session(price_amount=0)
    other_session = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 2)
    foreign = await confirmed(stack, other_session, 1)
    paid_session = await stack.new_session()
    unpaid = await book(stack, paid_session, 1)
    cancelled = await book(stack, paid_session, 1)
    response = await stack.api.post(f"/v1/bookings/{cancelled['id']}/cancel", json={})
    assert response.status_code in (200, 202), response.text
    await wait_for_status(stack.api, cancelled["id"], "CANCELLED")
    genuine = code(stack, session_id, booking["id"])
    cases = [
        (session_id, "A" * 90, "invalid"),  # forged
        (session_id, genuine[:-1], "invalid"),  # truncated
        (
            session_id,
            sign(
                Ticket(DEFAULT_ORGANISATION_ID, uuid.UUID(session_id), uuid.UUID(booking["id"]), 0),
                ["not our key"],
            ),
            "invalid",
        ),
        (session_id, code(stack, other_session, foreign["id"]), "other_session"),
        (paid_session, code(stack, paid_session, unpaid["id"]), "booking_not_confirmed"),
        (paid_session, code(stack, paid_session, cancelled["id"]), "booking_not_confirmed"),
        (session_id, code(stack, session_id, booking["id"], 2), "place_cancelled"),
    ]
    for where, ticket_code, reason in cases:
        refused = await scan(stack, where, ticket_code, door)
        assert refused.status_code == 422, (reason, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["reason"] == reason
    cancelled_answer = await scan(stack, paid_session, cases[5][1], door)
    assert "cancelled" in cancelled_answer.json()["detail"]
    async with stack.db() as s:
        assert (
            await s.scalar(
                select(func.count()).where(
                    CheckIn.session_id.in_([uuid.UUID(session_id), uuid.UUID(paid_session)])
                )
            )
            == 0
        )


async def test_offline_scans_apply_in_scan_order_once_each(
    stack: Stack, door: dict[str, str]
) -> None:
    session_id = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 2)
    ada, guest = (
        code(stack, session_id, booking["id"], 0),
        code(stack, session_id, booking["id"], 1),
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    scans = [
        {"code": ada, "scanned_at": at(5)},
        {"code": guest, "scanned_at": at(3)},
        {"code": ada, "scanned_at": at(2)},  # the first scan of Ada
        {"code": "forged", "scanned_at": at(4)},
        {"code": ada, "scanned_at": at(2)},  # a duplicate
    ]
    path = f"/v1/sessions/{session_id}/check-ins/batch"
    answer = await stack.api.post(path, json={"scans": scans}, headers=door)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [
        "already_checked_in",
        "checked_in",
        "checked_in",
        None,
        "already_checked_in",
    ]
    assert results[3]["refused"] == "invalid"
    assert results[0]["check_in"]["checked_in_at"] == at(2)
    again = await stack.api.post(path, json={"scans": scans}, headers=door)  # a resend
    assert [r["status"] for r in again.json()["results"]].count("checked_in") == 0


async def test_the_door_list_as_json_and_csv(stack: Stack, door: dict[str, str]) -> None:
    session_id = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 2, attendees=[{"name": '=Ada, "the" first'}])
    assert (
        await scan(stack, session_id, code(stack, session_id, booking["id"], 1), door)
    ).status_code == 200
    listed = await stack.api.get(f"/v1/sessions/{session_id}/attendees", headers=door)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["checked_in"], body["total"]) == (1, 2)
    assert [(a["attendee_name"], a["checked_in"]) for a in body["attendees"]] == [
        ('=Ada, "the" first', False),
        ("Ada Lovelace", True),
    ]
    for response in [
        await stack.api.get(f"/v1/sessions/{session_id}/attendees.csv", headers=door),
        await stack.api.get(
            f"/v1/sessions/{session_id}/attendees", headers={**door, "Accept": "text/csv"}
        ),
    ]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        assert [(r["attendee_name"], r["place"], r["checked_in"]) for r in rows] == [
            ('\'=Ada, "the" first', "1", "no"),  # a formula defused
            ("Ada Lovelace", "2", "yes"),
        ]
        assert rows[1]["booking_reference"] == booking["reference"]


async def test_door_keys_reach_only_the_door_and_other_keys_not_it(
    stack: Stack, door: dict[str, str]
) -> None:
    session_id = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 1)
    refused = [
        await stack.api.get("/v1/sessions", headers=door),
        await stack.api.get(f"/v1/sessions/{session_id}", headers=door),
        await stack.api.get(f"/v1/bookings/{booking['id']}", headers=door),
        await stack.api.post(
            "/v1/bookings",
            json=booking_body(session_id),
            headers={**door, "Idempotency-Key": str(uuid.uuid4())},
        ),
        await stack.api.get("/v1/organisation", headers=door),
        await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=door),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    ticket_code = code(stack, session_id, booking["id"])
    assert (await scan(stack, session_id, ticket_code, CLIENT)).status_code == 403
    assert (
        await stack.api.get(f"/v1/sessions/{session_id}/attendees", headers=CLIENT)
    ).status_code == 403
    # Another organisation's keys do not find the session at all.
    other = {"Authorization": f"Bearer {OTHER_ADMIN_KEY}"}
    assert (await scan(stack, session_id, ticket_code, other)).status_code == 404
    assert OTHER_ORGANISATION_ID != DEFAULT_ORGANISATION_ID


async def test_a_seat_given_back_refuses_its_own_ticket_and_no_other(
    stack: Stack, door: dict[str, str]
) -> None:
    """Given back by seat, the first of three places: its ticket is refused, the third's (now
    the booking's second place) still admits, and the door list shows the two kept."""
    session_id = await stack.new_session(price_amount=0)
    booking = await confirmed(stack, session_id, 3)
    first, *_ = booking["seats"]
    given = await stack.api.post(
        f"/v1/bookings/{booking['id']}/cancel-places", json={"seats": [first]}
    )
    assert given.status_code in (200, 202), given.text
    await eventually(
        lambda: stack.api.get(f"/v1/bookings/{booking['id']}"),
        lambda answer: answer.json()["quantity"] == 2,
        what="the place given back",
    )
    refused = await scan(stack, session_id, code(stack, session_id, booking["id"], 0), door)
    assert (refused.status_code, refused.json()["reason"]) == (422, "place_cancelled")
    admitted = await scan(stack, session_id, code(stack, session_id, booking["id"], 2), door)
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "checked_in"
    door_list = await stack.api.get(f"/v1/sessions/{session_id}/attendees", headers=door)
    assert door_list.json()["total"] == 2
    assert [a["attendee_index"] for a in door_list.json()["attendees"]] == [1, 2]
