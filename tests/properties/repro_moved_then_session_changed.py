"""Product bugs the money-path property test's rules reach, each written out alone: what a
booking had from its old session follows it after a move. Not collected by `make test` (the
file name does not match `test_*.py`) while they fail: run them by the file's path,
`pytest tests/properties/repro_moved_then_session_changed.py`.

1. (change_session_time, move, change_session_time) A booking told of its session's change 1,
   then moved to another session, is not told of that session's own change 1: the booking
   workflow keeps the last change's sequence it applied (`BookingState.session_change`) across
   the move and ignores a change whose sequence is not above it, so its reminder and end stay
   at the old times; and the change's email has the key `<booking>:session_changed:1` of the
   first session's, so it is never sent.
2. (change_session_time with a window, move, customer_cancel) The old session's
   accept-or-refund window follows the booking (`BookingState.refund_in_full_until` is kept
   across the move): a cancel on the new session, whose policy refunds nothing, is refunded in
   full "because the session's time changed".
3. (check_in, move, check_in) A place checked in at the old session cannot be checked in at
   the new one: the scan answers `already_checked_in` (the one check-in row per booking and
   place is the old session's) while the new session's door list counts it absent."""

import uuid
from datetime import UTC, datetime, timedelta

from core.tickets import Ticket, sign
from messages.session_changes import session_change_id
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.emails import emails_for
from tests.helpers.polling import eventually
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.properties.probes import next_timer


async def _moved_by(
    stack: Stack, session_id: str, hours: int, window: bool = False
) -> tuple[datetime, int]:
    """The session moved `hours` later, its change announced: its new start and sequence."""
    path = f"/v1/sessions/{session_id}"
    was = (await stack.api.get(path)).json()
    later = timedelta(hours=hours)
    body: dict[str, object] = {
        k: (datetime.fromisoformat(was[k]) + later).isoformat() for k in ("starts_at", "ends_at")
    }
    if window:
        body["accept_or_refund"] = {"window_seconds": 600}
    response = await stack.api.patch(path, json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    sequence = response.json()["change"]["sequence"]
    await stack.temporal.get_workflow_handle(session_change_id(session_id, sequence)).result()
    return datetime.fromisoformat(str(body["starts_at"])), sequence


async def _move(stack: Stack, booking_id: str, target: str) -> None:
    """The booking moved to `target` (at the same price: at once)."""
    moved = await stack.api.post(
        f"/v1/bookings/{booking_id}/move",
        json={"session_id": target},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code in (200, 202), moved.text
    await eventually(
        lambda: stack.api.get(f"/v1/bookings/{booking_id}"),
        lambda answer: answer.json()["session_id"] == target,
        what="the booking moved",
    )


async def test_a_booking_moved_into_a_session_is_told_of_that_sessions_time_change(
    stack: Stack,
) -> None:
    source, target = await stack.new_session(), await stack.new_session()
    booking = await paid_booking(stack.api, stack.stripe_client, source)
    await sent(stack.sendgrid, f"{booking['id']}:confirmation")
    await _moved_by(stack, source, 2)  # the source's change 1, told
    await _move(stack, booking["id"], target)

    starts, sequence = await _moved_by(stack, target, 3)  # the target's change 1

    assert sequence == 1
    summary, fires = await next_timer(stack.temporal, booking["id"])
    remind_at = starts - timedelta(seconds=stack.settings.reminder_before_seconds)
    assert summary == "reminder", summary
    assert abs((fires - remind_at).total_seconds()) < 5, f"reminds at {fires}, not {remind_at}"
    kinds = [k for k in emails_for(stack.sendgrid, booking["id"]) if k.startswith("session_")]
    assert kinds == ["session_changed:1", "session_changed:1"], kinds  # one per change


async def test_an_accept_or_refund_window_stays_with_the_session_a_booking_moved_from(
    stack: Stack,
) -> None:
    starts = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    # Policies that refund nothing: only a window gives money back.
    source = await session_with(stack.api, starts, refund_policy=[], capacity=3)
    target = await session_with(stack.api, starts, refund_policy=[], capacity=3)
    booking = await paid_booking(stack.api, stack.stripe_client, source)
    await _moved_by(stack, source, 2, window=True)
    await _move(stack, booking["id"], target)

    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    got = cancelled.json()
    assert (got["status"], got["amount_refunded"]) == ("CANCELLED", 0), got["status_reason"]


async def test_a_place_checked_in_before_a_move_checks_in_at_the_new_session(
    stack: Stack,
) -> None:
    source, target = await stack.new_session(), await stack.new_session()
    booking = await paid_booking(stack.api, stack.stripe_client, source)

    def code(session_id: str) -> str:
        ticket = Ticket(DEFAULT_ORGANISATION_ID, uuid.UUID(session_id), uuid.UUID(booking["id"]), 0)
        return sign(ticket, stack.settings.ticket_signing_keys)

    first = await stack.api.post(
        f"/v1/sessions/{source}/check-ins", json={"code": code(source)}, headers=ADMIN
    )
    assert first.json()["status"] == "checked_in", first.text
    await _move(stack, booking["id"], target)

    there = await stack.api.post(
        f"/v1/sessions/{target}/check-ins", json={"code": code(target)}, headers=ADMIN
    )

    assert there.status_code == 200, there.text
    door = (await stack.api.get(f"/v1/sessions/{target}/attendees", headers=ADMIN)).json()
    assert (there.json()["status"], door["checked_in"]) == ("checked_in", 1), (there.text, door)
