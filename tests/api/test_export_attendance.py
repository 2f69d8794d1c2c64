"""The customer export holds their attendance: each place's check-in, whether it attended (as
recorded at the session's end) and its certificate of attendance."""

import asyncio
import uuid

from tests.api.conftest import ADMIN
from tests.helpers.door import code, confirmed, ending_soon, scan
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import handle_of


async def test_the_export_holds_check_ins_attendance_and_certificates(stack: Stack) -> None:
    session_id, _ = await ending_soon(stack, 5, certifying=True)
    email = f"ada.{uuid.uuid4().hex[:8]}@example.org"
    attendees = [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}]
    customer = {"name": "Ada Lovelace", "email": email}
    booking = await confirmed(stack, session_id, 2, attendees=attendees, customer=customer)
    scanned = await scan(stack, session_id, code(stack, session_id, booking["id"], 0), ADMIN)
    assert scanned.status_code == 200, scanned.text
    view = await asyncio.wait_for(handle_of(stack.temporal, booking["id"]).result(), 30)
    assert view.status == "COMPLETED"
    await sent(stack.sendgrid, f"{booking['id']}:certificate:0")

    exported = await stack.api.post("/v1/customers/export", json={"email": email}, headers=ADMIN)
    assert exported.status_code == 200, exported.text
    data = exported.json()
    [check_in] = data["check_ins"]
    assert (check_in["booking_id"], check_in["place"]) == (booking["id"], 0)
    assert check_in["checked_in_at"] == scanned.json()["checked_in_at"].replace("Z", "+00:00")
    places = {(a["booking_id"], a["place"]): a["attended"] for a in data["attendance"]}
    assert places == {(booking["id"], 0): True, (booking["id"], 1): False}
    [certificate] = data["certificates"]
    assert (certificate["booking_id"], certificate["place"]) == (booking["id"], 0)
    assert certificate["attendee_name"] == "Ada Lovelace"
    assert certificate["number"] and certificate["revoked_at"] is None
    assert "pdf" not in certificate  # the document itself is the customer's email's
