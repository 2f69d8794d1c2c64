"""Cancellations racing new bookings and acceptances, against the real servers: the race is
forced by holding the session's row (FOR SHARE) while two bookings are cancelled, two offers
accepted and four places bought, so the list's round (woken by the cancellations) and every
reservation wait on it together and then go at once. The database shows nothing oversold and
no place both offered and sold or held; the list workflow's history shows the race happened (the
second cancellation's nudge arrived while the round woken by the first was still in flight)."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select, text
from temporalio.api.enums.v1 import EventType

from core.enums import SeatState, WaitingEntryState
from messages.waiting_list import waiting_list_workflow_id
from models.tables import Booking, Seat, Session, WaitingListEntry
from tests.helpers.api_bookings import booking_body, start_booking
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl

CAPACITY = 4
BUYERS = 4
# The list's round, the two acceptances' and the four buyers' reservations.
WAITERS = 1 + 2 + BUYERS
_LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


async def test_cancellations_racing_acceptances_and_bookings_never_oversell(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=CAPACITY)
    taken = [await start_booking(stack.api, session_id, 1) for _ in range(CAPACITY)]
    first = [await wl.join(stack.api, session_id, 1, f"first{n}") for n in range(2)]
    for booking in taken[:2]:
        await wl.cancel(stack.api, booking)
    offers = [(await wl.in_state(stack.api, e, "offered"))["offer"] for e in first]
    later = [await wl.join(stack.api, session_id, 1, f"later{n}") for n in range(2)]

    async def accept(entry_id: str, offer: dict[str, Any]) -> httpx.Response:
        path = f"/v1/waiting-list/{entry_id}/accept"
        return await stack.api.post(path, json={"token": offer["token"]})

    async def buy() -> httpx.Response:
        return await stack.api.post("/v1/bookings", json=booking_body(session_id, 1))

    async with stack.db() as hold:  # rounds and reservations take the row FOR NO KEY UPDATE
        await hold.execute(
            select(Session.id).where(Session.id == uuid.UUID(session_id)).with_for_update(read=True)
        )
        # The cancellations go through (they take the row FOR SHARE too); their nudges wake
        # the list, whose round waits. Then the acceptances and the buyers (places are free
        # now: the API's cheap check lets them through), whose reservations wait too.
        await asyncio.gather(*(wl.cancel(stack.api, b) for b in taken[2:]))
        racing = [
            asyncio.ensure_future(call)
            for call in [
                *(accept(e, o) for e, o in zip(first, offers, strict=True)),
                *(buy() for _ in range(BUYERS)),
            ]
        ]
        await eventually(
            lambda: _scalar(stack, _LOCK_WAITERS),
            lambda n: n >= WAITERS,
            within=15,
            what=f"{WAITERS} transactions waiting on the session",
        )
        await hold.commit()
    answers = await asyncio.gather(*racing)

    accepted = [a.json() for a in answers[:2]]
    assert [a.status_code for a in answers[:2]] == [201, 201], [a.text for a in answers[:2]]
    for booking, offer in zip(accepted, offers, strict=True):
        assert sorted(booking["seats"]) == sorted(offer["seats"])  # exactly the offered places
    bought = [a.json() for a in answers[2:] if a.status_code == 201]
    assert {a.status_code for a in answers[2:]} <= {201, 409}

    async def later_offered() -> int:
        states = [(await wl.entry(stack.api, e))["state"] for e in later]
        return states.count("offered")

    # Every place the cancellations gave back was bought or offered to the list, none twice.
    await eventually(
        later_offered, lambda n: n + len(bought) == 2, what="the places bought or offered"
    )
    world = World([session_id], {f"b{n}": b for n, b in enumerate([*taken, *accepted, *bought])})
    await at_rest(stack.db, world)
    await _nothing_oversold(stack, session_id)
    report = await run_check(world)
    assert report.ok, report.violations
    await _round_raced_a_cancellation(stack, session_id)


async def _scalar(stack: Stack, query: Any) -> int:
    async with stack.db() as db:
        return int(await db.scalar(query) or 0)


async def _nothing_oversold(stack: Stack, session_id: str) -> None:
    """Each place is held or sold by one open booking that names it, or offered to one entry
    whose open offer names it, never both; held + sold + offered within the capacity."""
    key = uuid.UUID(session_id)
    async with stack.db() as db:
        seats = (
            await db.execute(
                select(Seat.label, Seat.state, Seat.booking_id, Seat.waiting_entry_id).where(
                    Seat.session_id == key
                )
            )
        ).all()
        open_bookings = (
            await db.execute(
                select(Booking.id, Booking.seat_labels).where(
                    Booking.session_id == key,
                    Booking.status.in_(["PENDING_PAYMENT", "CONFIRMED"]),
                )
            )
        ).all()
        offers = (
            await db.execute(
                select(WaitingListEntry.id, WaitingListEntry.offer_seat_labels).where(
                    WaitingListEntry.session_id == key,
                    WaitingListEntry.state == WaitingEntryState.OFFERED,
                )
            )
        ).all()
        free = await db.scalar(
            select(func.count()).where(Seat.session_id == key, Seat.state == SeatState.FREE)
        )
    claimed = Counter(label for _, labels in open_bookings for label in labels)
    claimed.update(label for _, labels in offers for label in labels)
    assert max(claimed.values()) == 1, claimed  # no place claimed twice
    assert sum(claimed.values()) + (free or 0) == CAPACITY == len(seats)
    owner = {label: (state, booking, entry) for label, state, booking, entry in seats}
    for booking_id, labels in open_bookings:
        for label in labels:
            assert owner[label][0] in (SeatState.HELD, SeatState.SOLD), owner[label]
            assert owner[label][1] == booking_id, owner[label]
    for entry_id, labels in offers:
        for label in labels:
            assert owner[label] == (SeatState.OFFERED, None, entry_id), owner[label]


async def _round_raced_a_cancellation(stack: Stack, session_id: str) -> None:
    """A nudge of the list arrived while one of its rounds was in flight."""
    handle = stack.temporal.get_workflow_handle(waiting_list_workflow_id(session_id))
    in_flight: set[int] = set()
    raced = False
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == (
                "advance_waiting_list"
            ):
                in_flight.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            in_flight.discard(event.activity_task_completed_event_attributes.scheduled_event_id)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            raced = raced or bool(in_flight)
    assert raced, "no nudge arrived while a round was in flight: the race did not happen"
