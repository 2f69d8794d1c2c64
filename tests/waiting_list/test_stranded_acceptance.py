"""An entry stranded as `accepted` with a booking that does not exist (what a discarded setup
left before `wait_again`, forced here in the database) is reported by reconcile
(`accepted-without-booking`) and put back by `booking-ops sessions waiting-list-repair`: it
waits again at its old place, ahead of those who joined after it, and is offered the next
place; reconcile is clean after, and a second repair finds nothing."""

import uuid
from datetime import timedelta

from sqlalchemy import func, update

from core.enums import WaitingEntryState
from models.tables import WaitingListEntry
from reconcile.consistency import Rule
from tests.helpers.api_bookings import start_booking
from tests.helpers.consistency import Check, World, settled
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok_json
from tests.waiting_list import helpers as wl


async def test_a_stranded_acceptance_is_reported_then_waits_again_at_its_place(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=1)
    booking = await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    bob = await wl.join(stack.api, session_id, 1, "bob")
    gone = uuid.uuid4()
    async with stack.db.begin() as db:  # ada accepted once; her booking's setup was discarded
        await db.execute(
            update(WaitingListEntry)
            .where(WaitingListEntry.id == uuid.UUID(ada))
            .values(
                state=WaitingEntryState.ACCEPTED,
                booking_id=gone,
                closed_at=func.now(),
                updated_at=func.now() - timedelta(minutes=10),  # long ago
            )
        )
    assert (await wl.entry(stack.api, ada))["position"] is None  # off the list
    await settled()
    world = World([session_id], {"taken": booking})
    found = await run_check(world)
    assert [(v.rule, v.subject) for v in found.violations] == [(Rule.ACCEPTED_WITHOUT_BOOKING, ada)]
    assert str(gone) in found.violations[0].detail

    repaired = ok_json(
        await booking_ops(
            stack.settings, "sessions", "waiting-list-repair", "-s", session_id, "--json"
        )
    )

    assert repaired == {"requeued": [{"entry_id": ada, "session_id": session_id}]}
    entry = await wl.entry(stack.api, ada)
    assert (entry["state"], entry["position"], entry["booking_id"]) == ("waiting", 1, None)
    assert (await wl.entry(stack.api, bob))["position"] == 2
    await wl.cancel(stack.api, booking)
    await wl.in_state(stack.api, ada, "offered")  # first in line again
    assert (await wl.entry(stack.api, bob))["state"] == "waiting"
    await settled()
    clean = await run_check(world)
    assert clean.ok, clean.violations
    again = await booking_ops(
        stack.settings, "sessions", "waiting-list-repair", "-s", session_id, "--json"
    )
    assert ok_json(again) == {"requeued": []}
