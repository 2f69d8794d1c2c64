"""`certifying` changed by `PATCH /v1/sessions/{id}`: turned on before the session ends, its
attended places are certified at the end as if it had been set at creation; after the end it
changes no more (409), the certificates owed having been decided then."""

import asyncio

from tests.api.conftest import ADMIN
from tests.helpers.door import code, confirmed, ending_soon, scan
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import handle_of


async def test_certifying_is_set_before_the_end_and_not_after(stack: Stack) -> None:
    session_id, _ = await ending_soon(stack, 6)
    booking = await confirmed(stack, session_id, 1)
    path = f"/v1/sessions/{session_id}"

    turned_on = await stack.api.patch(path, json={"certifying": True}, headers=ADMIN)
    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json()["session"]["certifying"] is True
    assert turned_on.json()["change"] is None  # nothing to announce to the bookings
    scanned = await scan(stack, session_id, code(stack, session_id, booking["id"]), ADMIN)
    assert scanned.status_code == 200, scanned.text

    view = await asyncio.wait_for(handle_of(stack.temporal, booking["id"]).result(), 30)
    assert view.status == "COMPLETED"
    email = await sent(stack.sendgrid, f"{booking['id']}:certificate:0")
    assert email["attachments"][0]["filename"].startswith("certificate-")

    too_late = await stack.api.patch(path, json={"certifying": False}, headers=ADMIN)
    assert too_late.status_code == 409, too_late.text
    assert "ended" in too_late.json()["detail"]
    session = (await stack.api.get(path, headers=ADMIN)).json()
    assert session["certifying"] is True
