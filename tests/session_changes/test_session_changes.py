"""A session's changes end to end, against the real servers: a change of time or place reaches
every open booking once (an email with a calendar file of the next SEQUENCE, its reminder timer
set anew, `session.updated` then each `booking.updated`), however often its workflow starts; a
capacity never below the places taken; a raised capacity wakes the waiting list; the
accept-or-refund window refunds in full only inside it. Reconcile is clean after."""

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
from temporalio.api.enums.v1 import EventType

from clients.session_changes import announce_session_change
from messages.booking import booking_workflow_id
from messages.session_changes import SessionChangeProgress, session_change_id
from tests.api.conftest import ADMIN
from tests.api.webhooks_out.conftest import Register
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import paid_booking, session_with, start_booking, wait_for_status
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.polling import eventually
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.histories import SESSION_CHANGE_HISTORIES, keep_history, keep_workflow_history

CHANGE_EVENTS = ["session.updated", "booking.updated"]


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _patch(api: httpx.AsyncClient, session_id: str, **body: Any) -> httpx.Response:
    return await api.patch(f"/v1/sessions/{session_id}", json=body, headers=ADMIN)


async def _changed(api: httpx.AsyncClient, session_id: str, **body: Any) -> dict[str, Any]:
    response = await _patch(api, session_id, **body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _announced(stack: Stack, session_id: str, sequence: int) -> SessionChangeProgress:
    """The change's announcement, started (again: it finds the running one) and waited for."""
    handle = await announce_session_change(stack.temporal, stack.settings, session_id, sequence)
    return await handle.result()


def _keys(stack: Stack, booking_id: str, kind: str) -> list[str]:
    return [
        key
        for r in stack.sendgrid.requests
        if (key := r.body.get("custom_args", {}).get("notification_key", "")).startswith(
            f"{booking_id}:{kind}"
        )
    ]


def _event(stack: Stack, key: str) -> icalendar.cal.Component:
    """The VEVENT of the calendar file the email of `key` carried."""
    email = next(
        r.body for r in stack.sendgrid.requests if r.body["custom_args"]["notification_key"] == key
    )
    (ics,) = [a for a in email["attachments"] if a["type"] == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(base64.b64decode(ics["content"]))
    (event,) = calendar.walk("VEVENT")
    return event


async def _timers(stack: Stack, booking_id: str) -> list[tuple[str, str, float]]:
    """The booking workflow's timers: (started or cancelled, summary, seconds to fire)."""
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(booking_id))
    history = await handle.fetch_history()
    converter = stack.temporal.data_converter
    timers: list[tuple[str, str, float]] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            summary = await converter.decode([event.user_metadata.summary])
            fire = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            timers.append(("started", str(summary[0]), fire.total_seconds()))
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.append(("cancelled", "", 0.0))
    return timers


async def test_a_time_change_reaches_every_booking_once(
    stack: Stack, register: Register, receiver: WebhookReceiver, run_check: Check
) -> None:
    await register("changes", events=CHANGE_EVENTS)
    session_id = await stack.new_session(capacity=4)
    ada = await paid_booking(stack.api, stack.stripe_client, session_id)
    bob = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    # Their confirmations sent first: one rendered after the change would carry its SEQUENCE.
    for booking in (ada, bob):
        await sent(stack.sendgrid, f"{booking['id']}:confirmation")
    before = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    new_start = _moment(before["starts_at"]) + timedelta(days=1)

    moving = {
        "starts_at": new_start.isoformat(),
        "ends_at": (new_start + timedelta(hours=6)).isoformat(),
        "location": "Bath",
    }
    body = await _changed(stack.api, session_id, **moving)
    change = body["change"]
    assert change["sequence"] == 1 and change["refund_in_full_until"] is None
    assert set(change["changes"]) == {"starts_at", "ends_at", "location"}
    assert body["session"]["location"] == "Bath"
    assert _moment(body["session"]["starts_at"]) == new_start
    # Started twice while it runs, and again once it has finished: one change all the same.
    first, second = await asyncio.gather(
        _announced(stack, session_id, 1), _announced(stack, session_id, 1)
    )
    assert first == second and (first.total, first.done, first.failed) == (2, 2, [])
    assert (await _announced(stack, session_id, 1)).done == 2
    # The same PATCH again (a retry) is no second change: it announces the first again.
    again = await _changed(stack.api, session_id, **moving)
    assert again["change"]["sequence"] == 1
    assert (await _announced(stack, session_id, 1)).done == 2

    for booking in (ada, bob):
        assert _keys(stack, booking["id"], "session_changed") == [
            f"{booking['id']}:session_changed:1"
        ]
        event = _event(stack, f"{booking['id']}:session_changed:1")
        confirmed = _event(stack, f"{booking['id']}:confirmation")
        assert event["UID"] == confirmed["UID"]
        assert (confirmed["SEQUENCE"], event["SEQUENCE"]) == (0, 1)
        assert event.decoded("DTSTART") == new_start
        assert str(event["LOCATION"]) == "Bath"

    # The reminder timer was set again for the new start: cancelled, then started a day later.
    timers = await _timers(stack, ada["id"])
    reminders = [t for t in timers if t[0] == "started" and t[1] == "reminder"]
    assert len(reminders) == 2, timers
    # A day later, less the moments between the two timers' starts.
    assert 86_340 <= reminders[1][2] - reminders[0][2] <= 86_400
    assert ("cancelled", "", 0.0) in timers[timers.index(reminders[0]) :]

    # A second change: the next SEQUENCE, the same UID.
    later = new_start + timedelta(hours=2)
    await _changed(stack.api, session_id, starts_at=later.isoformat())
    assert (await _announced(stack, session_id, 2)).done == 2
    second_event = _event(stack, f"{ada['id']}:session_changed:2")
    assert second_event["SEQUENCE"] == 2 and second_event.decoded("DTSTART") == later
    assert len(_keys(stack, ada["id"], "session_changed")) == 2

    # session.updated, then each booking.updated, for each change.
    got = await eventually(
        lambda: _received(receiver, session_id, {ada["id"], bob["id"]}),
        lambda r: len(r) == 6,
        within=20,
        what="6 events",
    )
    session_events = [r for r in got if r["type"] == "session.updated"]
    assert len(session_events) == 2
    first_change = sorted(got, key=lambda r: r["timestamp"])[:3]
    assert [r["type"] for r in first_change] == [
        "session.updated",
        "booking.updated",
        "booking.updated",
    ]

    await keep_history(stack.temporal, ada["id"], "session-change-timers-set-again")
    await keep_workflow_history(
        stack.temporal,
        session_change_id(session_id, 2),
        SESSION_CHANGE_HISTORIES / "two-bookings-told",
    )
    world = World([session_id], {"ada": ada, "bob": bob})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def _received(
    receiver: WebhookReceiver, session_id: str, booking_ids: set[str]
) -> list[dict[str, Any]]:
    return [
        r.body
        for r in receiver.accepted("changes")
        if r.body["data"].get("session", {}).get("id") == session_id
        or r.body["data"].get("booking", {}).get("id") in booking_ids
    ]


async def test_a_capacity_below_the_places_taken_is_refused_and_changes_nothing(
    stack: Stack,
) -> None:
    session_id = await stack.new_session(capacity=4)
    await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    await start_booking(stack.api, session_id, 1)  # held, not paid

    refused = await _patch(stack.api, session_id, capacity=2, title="Renamed")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("capacity-below-taken")
    assert (problem["sold"], problem["held"], problem["offered"]) == (2, 1, 0)
    session = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    assert session["title"] != "Renamed" and session["availability"]["capacity"] == 4

    lowered = await _changed(stack.api, session_id, capacity=3)
    assert lowered["change"] is None
    assert lowered["session"]["availability"] == {
        "capacity": 3,
        "held": 1,
        "sold": 2,
        "available": 0,
    }
    now = datetime.now(UTC)
    past = await _patch(stack.api, session_id, starts_at=(now - timedelta(hours=1)).isoformat())
    assert past.status_code == 422
    backwards = await _patch(
        stack.api,
        session_id,
        starts_at=(now + timedelta(days=3)).isoformat(),
        ends_at=(now + timedelta(days=2)).isoformat(),
    )
    assert backwards.status_code == 422
    naive = await _patch(stack.api, session_id, starts_at="2031-03-01T09:00:00")
    assert naive.status_code == 422
    unknown = await _patch(stack.api, str(uuid.uuid4()), title="Nobody's")
    assert unknown.status_code == 404


async def test_raising_the_capacity_wakes_the_waiting_list(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=1)
    await paid_booking(stack.api, stack.stripe_client, session_id)
    joined = await stack.api.post(
        f"/v1/sessions/{session_id}/waiting-list",
        json={"quantity": 1, "customer": {"name": "Eve", "email": "eve@example.com"}},
    )
    assert joined.status_code == 201, joined.text

    raised = await _changed(stack.api, session_id, capacity=2)
    assert raised["session"]["availability"]["capacity"] == 2
    entry = await eventually(
        lambda: _entry(stack.api, joined.json()["id"]),
        lambda e: e["state"] == "offered",
        within=15,
        what="an offer",
    )
    assert entry["offer"]["seats"] == ["GA-002"]


async def _entry(api: httpx.AsyncClient, entry_id: str) -> dict[str, Any]:
    return (await api.get(f"/v1/waiting-list/{entry_id}")).json()  # type: ignore[no-any-return]


async def test_the_accept_or_refund_window_refunds_in_full_only_inside_it(
    stack: Stack, run_check: Check
) -> None:
    starts = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    # A policy that refunds nothing: only the window gives money back.
    session_id = await session_with(stack.api, starts, refund_policy=[], capacity=3)
    inside = await paid_booking(stack.api, stack.stripe_client, session_id)
    after = await paid_booking(stack.api, stack.stripe_client, session_id)

    small = await _changed(
        stack.api,
        session_id,
        starts_at=(starts + timedelta(minutes=30)).isoformat(),
        accept_or_refund={"window_seconds": 3, "min_shift_seconds": 3600},
    )
    assert small["change"]["refund_in_full_until"] is None  # moved too little for a window
    await _announced(stack, session_id, 1)
    moved = await _changed(
        stack.api,
        session_id,
        starts_at=(starts + timedelta(days=2)).isoformat(),
        accept_or_refund={"window_seconds": 8, "min_shift_seconds": 3600},
    )
    until = _moment(moved["change"]["refund_in_full_until"])
    await _announced(stack, session_id, 2)

    cancelled = await stack.api.post(f"/v1/bookings/{inside['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "REFUNDED"
    assert "refunded in full" in cancelled.json()["status_reason"]
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
    timers = await _timers(stack, after["id"])
    assert "accept-or-refund window ends" in [summary for _, summary, _ in timers]
    kept = await stack.api.post(f"/v1/bookings/{after['id']}/cancel")
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "CANCELLED"
    assert "refunded in full" not in (kept.json()["status_reason"] or "")

    await keep_history(stack.temporal, after["id"], "session-change-window-then-policy")
    world = World([session_id], {"inside": inside, "after": after})
    world.bookings["inside"] = await wait_for_status(stack.api, inside["id"], "REFUNDED")
    world.bookings["after"] = await wait_for_status(stack.api, after["id"], "CANCELLED")
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
