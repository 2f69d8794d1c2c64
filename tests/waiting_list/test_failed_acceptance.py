"""An accepted offer whose booking's setup fails (the booking discarded, as the workflow does
when its PaymentIntent cannot be made): the entry waits again at its place instead of staying
`accepted` with a booking that is gone, the places come back to the list, which offers them to
it again (a new offer, email and token), and the new offer is accepted; reconcile is clean."""

import uuid

from activities.inventory import InventoryActivities
from activities.waiting_list_signals import WaitingListSignals
from clients.waiting_lists import acceptance
from models.tables import Session, WaitingListEntry
from tests.helpers.api_bookings import start_booking
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.refunds import sent
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl


async def test_a_discarded_acceptance_puts_the_entry_back_and_it_is_offered_again(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=2)
    booking = await start_booking(stack.api, session_id, 2)
    ada = await wl.join(stack.api, session_id, 2, "ada")
    await wl.cancel(stack.api, booking)
    first = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    async with stack.db() as s:
        entry = await s.get_one(WaitingListEntry, uuid.UUID(ada))
        request = acceptance(entry, await s.get_one(Session, entry.session_id)).request
    signals = WaitingListSignals(stack.db, stack.temporal, stack.settings.task_queue)
    inventory = InventoryActivities(stack.db, waiting_lists=signals)

    await inventory.reserve(request)  # the setup's first step: the offer taken over
    assert (await wl.entry(stack.api, ada))["state"] == "accepted"
    await inventory.discard(request.booking_id)  # its next step failed

    again = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    assert sorted(again["seats"]) == sorted(first["seats"])
    assert again["token"] != first["token"]
    await sent(stack.sendgrid, f"waiting-list:{ada}:offered:2")
    stale = await stack.api.post(f"/v1/waiting-list/{ada}/accept", json={"token": first["token"]})
    assert stale.status_code == 409, stale.text

    accepted = await stack.api.post(
        f"/v1/waiting-list/{ada}/accept", json={"token": again["token"]}
    )
    assert accepted.status_code == 201, accepted.text
    assert sorted(accepted.json()["seats"]) == sorted(first["seats"])
    entry_now = await wl.entry(stack.api, ada)
    assert (entry_now["state"], entry_now["booking_id"]) == ("accepted", accepted.json()["id"])

    world = World([session_id], {"first": booking, "accepted": accepted.json()})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
