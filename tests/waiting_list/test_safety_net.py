"""The safety net moves a stalled waiting list on (faults forced, against the real servers):
the list's workflow terminated while an offer is open, and the offer's deadline passed, is
found by reconcile (`offer-overdue`) and nudged by the safety net, so the offer lapses and moves
on; places given back with the list's nudge lost, and no list workflow, are offered once the
safety net has nudged it. Reconcile is clean after."""

import uuid
from datetime import timedelta

from sqlalchemy import func, update

from core.enums import WaitingEntryState
from messages.waiting_list import waiting_list_workflow_id
from models.tables import WaitingListEntry
from reconcile.consistency import Rule
from store.waiting_list import end_entry
from tests.helpers.api_bookings import start_booking
from tests.helpers.consistency import Check, World, settled
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import run_safety_net
from tests.waiting_list import helpers as wl


async def _first_of_two_offered_then_list_terminated(stack: Stack) -> tuple[str, str, str]:
    """A session of one place whose booking was cancelled, two entries waiting: the first is
    offered the place, then an operator terminates the list's workflow. (session, ada, bob)"""
    session_id = await stack.new_session(capacity=1)
    booking = await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    bob = await wl.join(stack.api, session_id, 1, "bob")
    await wl.cancel(stack.api, booking)
    await wl.in_state(stack.api, ada, "offered")
    handle = stack.temporal.get_workflow_handle(waiting_list_workflow_id(session_id))
    await handle.terminate("by an operator")
    return session_id, ada, bob


async def test_an_offer_past_its_deadline_with_its_list_gone_lapses_and_moves_on(
    stack: Stack, run_check: Check
) -> None:
    session_id, ada, bob = await _first_of_two_offered_then_list_terminated(stack)
    seats = (await wl.entry(stack.api, ada))["offer"]["seats"]
    async with stack.db.begin() as db:  # its deadline passes; no timer is left to see it
        await db.execute(
            update(WaitingListEntry)
            .where(WaitingListEntry.id == uuid.UUID(ada))
            .values(offer_expires_at=func.now() - timedelta(minutes=5))
        )
    await settled()
    world = World([session_id], {})
    found = await run_check(world)
    assert {(v.rule, v.subject) for v in found.violations} == {(Rule.OFFER_OVERDUE, ada)}

    report = await run_safety_net(
        stack.temporal,
        stack.settings,
        "safety-net/nudged_a_stalled_waiting_list",
        offer_grace_seconds=0,
    )

    assert session_id in report.lists_nudged
    await wl.in_state(stack.api, ada, "expired")
    assert (await wl.in_state(stack.api, bob, "offered"))["offer"]["seats"] == seats
    await settled()
    clean = await run_check(world)
    assert clean.ok, clean.violations


async def test_places_given_back_with_the_nudge_lost_are_offered_after_the_safety_net(
    stack: Stack, run_check: Check
) -> None:
    session_id, ada, bob = await _first_of_two_offered_then_list_terminated(stack)
    # Ada leaves; the API's nudge after the commit is lost (Temporal unreachable).
    async with stack.db.begin() as db:
        entry = await db.get_one(WaitingListEntry, uuid.UUID(ada), with_for_update=True)
        assert await end_entry(db, entry, WaitingEntryState.LEFT) == 1
    await settled()
    assert (await wl.entry(stack.api, bob))["state"] == "waiting"  # nobody moved it on

    report = await run_safety_net(stack.temporal, stack.settings)

    assert session_id in report.lists_nudged
    await wl.in_state(stack.api, bob, "offered")
    await settled()
    clean = await run_check(World([session_id], {}))
    assert clean.ok, clean.violations
