"""A moved booking's tickets: the move's email carries a ticket per place for the session moved
to (read back by zbar, it checks its attendee in there), the tickets of the session left are
refused with their reason at either door, and each session's door list names whom it admits."""

import base64
import uuid
from pathlib import Path

from tests.api.conftest import ADMIN
from tests.helpers.door import code, confirmed, scan
from tests.helpers.qr import qr_codes_of_pdf
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack


async def _door_list(stack: Stack, session_id: str) -> list[tuple[str, int]]:
    response = await stack.api.get(f"/v1/sessions/{session_id}/attendees", headers=ADMIN)
    assert response.status_code == 200, response.text
    return [(a["booking_id"], a["attendee_index"]) for a in response.json()["attendees"]]


async def test_a_moved_booking_gets_tickets_that_admit_at_the_new_session_only(
    stack: Stack, tmp_path: Path
) -> None:
    source = await stack.new_session(price_amount=0)
    target = await stack.new_session(price_amount=0)
    attendees = [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}]
    booking = await confirmed(stack, source, 2, attendees=attendees)
    old_code = code(stack, source, booking["id"], 1)

    moved = await stack.api.post(
        f"/v1/bookings/{booking['id']}/move",
        json={"session_id": target},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code == 200, moved.text

    email = await sent(stack.sendgrid, f"{booking['id']}:moved:1")
    pdfs = sorted(
        (a for a in email["attachments"] if a["filename"].startswith("ticket-")),
        key=lambda a: a["filename"],
    )
    assert [a["filename"] for a in pdfs] == [
        f"ticket-{booking['reference']}-1.pdf",
        f"ticket-{booking['reference']}-2.pdf",
    ]
    [new_code] = qr_codes_of_pdf(base64.b64decode(pdfs[1]["content"]), tmp_path)
    assert new_code == code(stack, target, booking["id"], 1)

    checked = await scan(stack, target, new_code, ADMIN)
    assert checked.status_code == 200, checked.text
    assert (checked.json()["status"], checked.json()["attendee_name"]) == (
        "checked_in",
        "Charles Babbage",
    )
    at_target = await scan(stack, target, old_code, ADMIN)
    assert at_target.status_code == 422, at_target.text
    assert at_target.json()["reason"] == "other_session"
    at_source = await scan(stack, source, old_code, ADMIN)  # the old ticket admits nowhere now
    assert at_source.status_code == 422, at_source.text
    assert at_source.json()["reason"] == "booking_moved"

    assert await _door_list(stack, target) == [(booking["id"], 0), (booking["id"], 1)]
    assert await _door_list(stack, source) == []
