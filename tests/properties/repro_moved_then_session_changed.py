"""A product bug the money-path property test's rules reach (change_session_time, move,
change_session_time), written out alone. Not collected by `make test` (the file name does not
match `test_*.py`) while it fails: run it by its path,
`pytest tests/properties/repro_moved_then_session_changed.py`.

A booking told of its session's change 1, then moved to another session, is not told of that
session's own change 1: the booking workflow keeps the last change's sequence it applied
(`BookingState.session_change`) across the move and ignores a change whose sequence is not
above it, so its reminder and end stay at the old times; and the change's email has the key
`<booking>:session_changed:1` of the first session's, so it is never sent."""

import uuid
from datetime import datetime, timedelta

from messages.session_changes import session_change_id
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import paid_booking
from tests.helpers.emails import emails_for
from tests.helpers.polling import eventually
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.properties.probes import next_timer


async def _moved_by(stack: Stack, session_id: str, hours: int) -> tuple[datetime, int]:
    """The session moved `hours` later, its change announced: its new start and sequence."""
    path = f"/v1/sessions/{session_id}"
    was = (await stack.api.get(path)).json()
    later = timedelta(hours=hours)
    body = {
        k: (datetime.fromisoformat(was[k]) + later).isoformat() for k in ("starts_at", "ends_at")
    }
    response = await stack.api.patch(path, json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    sequence = response.json()["change"]["sequence"]
    await stack.temporal.get_workflow_handle(session_change_id(session_id, sequence)).result()
    return datetime.fromisoformat(body["starts_at"]), sequence


async def test_a_booking_moved_into_a_session_is_told_of_that_sessions_time_change(
    stack: Stack,
) -> None:
    source, target = await stack.new_session(), await stack.new_session()
    booking = await paid_booking(stack.api, stack.stripe_client, source)
    await sent(stack.sendgrid, f"{booking['id']}:confirmation")
    await _moved_by(stack, source, 2)  # the source's change 1, told
    moved = await stack.api.post(
        f"/v1/bookings/{booking['id']}/move",
        json={"session_id": target},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code in (200, 202), moved.text
    await eventually(
        lambda: stack.api.get(f"/v1/bookings/{booking['id']}"),
        lambda answer: answer.json()["session_id"] == target,
        what="the booking moved",
    )

    starts, sequence = await _moved_by(stack, target, 3)  # the target's change 1

    assert sequence == 1
    summary, fires = await next_timer(stack.temporal, booking["id"])
    remind_at = starts - timedelta(seconds=stack.settings.reminder_before_seconds)
    assert summary == "reminder", summary
    assert abs((fires - remind_at).total_seconds()) < 5, f"reminds at {fires}, not {remind_at}"
    kinds = [k for k in emails_for(stack.sendgrid, booking["id"]) if k.startswith("session_")]
    assert kinds == ["session_changed:1", "session_changed:1"], kinds  # one per change
