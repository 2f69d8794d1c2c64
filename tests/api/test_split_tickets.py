"""A partial move's tickets: the new booking's email carries a ticket per place moved (its
attendees kept), which admits at the session moved to; the first booking's ticket of a moved
place is refused at its door, its other tickets still admit."""

import base64
import uuid
from pathlib import Path

from tests.api.conftest import ADMIN
from tests.helpers.door import code, confirmed, scan
from tests.helpers.qr import qr_codes_of_pdf
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack


async def test_a_split_booking_admits_its_moved_places_at_the_new_session(
    stack: Stack, tmp_path: Path
) -> None:
    source = await stack.new_session(price_amount=0)
    target = await stack.new_session(price_amount=0)
    attendees = [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}]
    first = await confirmed(stack, source, 2, attendees=attendees)
    moved_code = code(stack, source, first["id"], 1)

    moved = await stack.api.post(
        f"/v1/bookings/{first['id']}/move",
        json={"session_id": target, "count": 1},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )

    assert moved.status_code == 200, moved.text
    split_id = moved.json()["moved_to"]
    split = (await stack.api.get(f"/v1/bookings/{split_id}")).json()
    assert [a["name"] for a in split["attendees"]] == ["Charles Babbage"]
    assert (split["amount_paid"], split["status"]) == (0, "CONFIRMED")
    email = await sent(stack.sendgrid, f"{split_id}:moved")
    (ticket,) = [a for a in email["attachments"] if a["filename"].startswith("ticket-")]
    [new_code] = qr_codes_of_pdf(base64.b64decode(ticket["content"]), tmp_path)
    assert new_code == code(stack, target, split_id, 0)

    checked = await scan(stack, target, new_code, ADMIN)
    assert checked.status_code == 200, checked.text
    assert checked.json()["attendee_name"] == "Charles Babbage"
    refused = await scan(stack, source, moved_code, ADMIN)
    assert refused.status_code == 422, refused.text
    kept = await scan(stack, source, code(stack, source, first["id"], 0), ADMIN)
    assert kept.status_code == 200, kept.text
    assert kept.json()["attendee_name"] == "Ada Lovelace"
