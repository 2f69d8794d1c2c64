"""A session's start moved earlier than an open offer's deadline: the deadline is capped at the
new start (an offer never outlives the session's sales, `core.waiting_list.offer_deadline`) and
the list is nudged, so its workflow's next look is the new start, not the old deadline; the
offered customer, emailed the old deadline, is emailed the new one, once per cap."""

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata

from documents.receipt_data import format_moment, format_utc
from messages.waiting_list import waiting_list_workflow_id
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import start_booking
from tests.helpers.polling import eventually
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl


async def _next_look(stack: Stack, session_id: str) -> str:
    handle = stack.temporal.get_workflow_handle(waiting_list_workflow_id(session_id))
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def _looks_next_at(stack: Stack, session_id: str, moment: datetime) -> None:
    """The list's workflow sleeps until `moment` (the Temporal UI's line says so)."""
    await eventually(
        lambda: _next_look(stack, session_id),
        lambda details: f"Next look {format_utc(moment)}" in details,
        within=15,
        what=f"the list's next look at {moment}",
    )


async def test_an_earlier_start_caps_open_offers_and_wakes_the_list(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=1)
    booking = await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    await wl.cancel(stack.api, booking)
    offer = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    deadline = datetime.fromisoformat(offer["expires_at"])  # 12 hours on, by default
    await _looks_next_at(stack, session_id, deadline)

    starts_at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    changed = await stack.api.patch(
        f"/v1/sessions/{session_id}", json={"starts_at": starts_at.isoformat()}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text

    capped = await wl.entry(stack.api, ada)
    assert capped["state"] == "offered"
    assert datetime.fromisoformat(capped["offer"]["expires_at"]) == starts_at < deadline
    await _looks_next_at(stack, session_id, starts_at)
    await _told(stack, session_id, ada, 1, starts_at)

    later = starts_at + timedelta(hours=2)  # a later start leaves the deadline as it is
    moved = await stack.api.patch(
        f"/v1/sessions/{session_id}", json={"starts_at": later.isoformat()}, headers=ADMIN
    )
    assert moved.status_code == 200, moved.text
    kept = await wl.entry(stack.api, ada)
    assert datetime.fromisoformat(kept["offer"]["expires_at"]) == starts_at

    sooner = starts_at - timedelta(minutes=30)  # capped again: told again
    again = await stack.api.patch(
        f"/v1/sessions/{session_id}", json={"starts_at": sooner.isoformat()}, headers=ADMIN
    )
    assert again.status_code == 200, again.text
    await _told(stack, session_id, ada, 2, sooner)
    keys = [_key(r) for r in stack.sendgrid.requests if _key(r).startswith(f"waiting-list:{ada}:")]
    assert keys == [
        f"waiting-list:{ada}:offered:1",
        *(f"waiting-list:{ada}:offered:1:cap-{n}" for n in (1, 2)),
    ]


def _key(request: Any) -> str:
    return str(request.body.get("custom_args", {}).get("notification_key", ""))


async def _told(stack: Stack, session_id: str, entry_id: str, cap: int, deadline: datetime) -> None:
    """The entry's offer email of its `cap`th cap, giving the capped deadline."""
    email = await sent(stack.sendgrid, f"waiting-list:{entry_id}:offered:1:cap-{cap}")
    assert email["subject"].startswith("New deadline for your places")
    [text] = [c["value"] for c in email["content"] if c["type"] == "text/plain"]
    assert "now starts earlier" in text
    zone = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["time_zone"]
    assert f"accept by {format_moment(deadline, zone)}" in text
