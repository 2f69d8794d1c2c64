"""What a booking had from its session stays with that session when the booking moves (the
money-path property test's finds, tests/properties): a change of the session it moved to is
applied and told although the one it left had a change of the same number; the window of a
change of the session it left does not refund a cancel in its new one; a place checked in at
the session it left is checked in at its new one too. A booking split off by a partial move is
told of its session's first change."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import icalendar
from sqlalchemy import select

from core.tickets import Ticket, sign
from messages.session_changes import session_change_id
from models.tables import WebhookEvent
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.api.webhooks_out.conftest import Register
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.emails import emails_for
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.helpers.timers import next_timer
from tests.histories import keep_history


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


async def _move(stack: Stack, booking_id: str, target: str, **places: object) -> dict[str, str]:
    """The booking's places (all, or `places`) moved to `target` at the same price: at once."""
    moved = await stack.api.post(
        f"/v1/bookings/{booking_id}/move",
        json={"session_id": target, **places},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert moved.status_code == 200, moved.text
    return moved.json()  # type: ignore[no-any-return]


async def _reminds_at(stack: Stack, booking_id: str, starts: datetime) -> None:
    """The booking's workflow waits for the reminder of a session starting at `starts`."""
    summary, fires = await next_timer(stack.temporal, booking_id)
    remind_at = starts - timedelta(seconds=stack.settings.reminder_before_seconds)
    assert summary == "reminder", summary
    assert abs((fires - remind_at).total_seconds()) < 5, f"reminds at {fires}, not {remind_at}"


async def _events(stack: Stack, booking_id: str, kind: str) -> list[str]:
    """The dedup keys of the booking's webhook events of `kind`, oldest first."""
    async with stack.db() as s:
        keys = await s.scalars(
            select(WebhookEvent.dedup_key)
            .where(WebhookEvent.stream_id == uuid.UUID(booking_id), WebhookEvent.type == kind)
            .order_by(WebhookEvent.sequence)
        )
        return list(keys)


def _event(stack: Stack, key: str) -> icalendar.cal.Component:
    """The VEVENT of the calendar file the email of `key` carried."""
    email = next(
        r.body for r in stack.sendgrid.requests if r.body["custom_args"]["notification_key"] == key
    )
    (ics,) = [a for a in email["attachments"] if a["type"] == "text/calendar"]
    (event,) = icalendar.Calendar.from_ical(base64.b64decode(ics["content"])).walk("VEVENT")
    return event


async def test_a_booking_moved_into_a_session_is_told_of_that_sessions_time_change(
    stack: Stack, register: Register
) -> None:
    await register("changes", events=["booking.updated"])
    source, target = await stack.new_session(), await stack.new_session()
    booking = await paid_booking(stack.api, stack.stripe_client, source)
    await sent(stack.sendgrid, f"{booking['id']}:confirmation")
    await _moved_by(stack, source, 2)  # the source's change 1, told
    await _move(stack, booking["id"], target)
    await sent(stack.sendgrid, f"{booking['id']}:moved:1")

    starts, sequence = await _moved_by(stack, target, 3)  # the target's change 1

    assert sequence == 1
    await _reminds_at(stack, booking["id"], starts)
    kinds = [k for k in emails_for(stack.sendgrid, booking["id"]) if k.startswith("session_")]
    # The first session's key as it was; the second names its session.
    assert kinds == ["session_changed:1", f"session_changed:1:{target}"], kinds
    event = _event(stack, f"{booking['id']}:session_changed:1:{target}")
    assert (str(event["uid"]), event["sequence"]) == (f"{booking['id']}-1@booking-engine", 1)
    assert event.decoded("dtstart") == starts
    assert await _events(stack, booking["id"], "booking.updated") == [
        "session-change-1",
        f"session-change-1-{target}",
    ]
    await keep_history(stack.temporal, booking["id"], "moved-session-state-told_of_its_new_change")


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
    await keep_history(stack.temporal, booking["id"], "moved-session-state-window_left_behind")


async def test_a_place_checked_in_before_a_move_checks_in_at_the_new_session(
    stack: Stack, register: Register
) -> None:
    await register("doors", events=["attendee.checked_in"])
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
    again = await stack.api.post(
        f"/v1/sessions/{target}/check-ins", json={"code": code(target)}, headers=ADMIN
    )
    assert again.json()["status"] == "already_checked_in", again.text
    assert await _events(stack, booking["id"], "attendee.checked_in") == [
        "checked-in-0",
        f"checked-in-0-{target}",
    ]


async def test_a_booking_split_off_is_told_of_its_sessions_first_change(stack: Stack) -> None:
    source, target = await stack.new_session(), await stack.new_session()
    first = await paid_booking(stack.api, stack.stripe_client, source, 2)
    await sent(stack.sendgrid, f"{first['id']}:confirmation")
    await _moved_by(stack, source, 2)  # the source's change 1: the first booking's
    split_id = (await _move(stack, first["id"], target, count=1))["moved_to"]
    await sent(stack.sendgrid, f"{split_id}:moved")

    starts, sequence = await _moved_by(stack, target, 3)

    assert sequence == 1
    await _reminds_at(stack, split_id, starts)
    assert "session_changed:1" in emails_for(stack.sendgrid, split_id)
    # The first booking stays in the source: not told of the target's change.
    assert emails_for(stack.sendgrid, first["id"]).count("session_changed:1") == 1
