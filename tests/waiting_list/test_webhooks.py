"""The waiting list's webhooks out, received by the fake shop back end: each entry's
`waitlist.joined`, `.offered`, `.accepted`, `.expired` and `.left`, each exactly once per
transition and in the entry's order, with the outbox holding no second copy."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from models.tables import WebhookEvent
from tests.api.conftest import ADMIN
from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers.api_bookings import start_booking
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl

WAITLIST_EVENTS = [
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.accepted",
    "waitlist.expired",
    "waitlist.left",
]


@pytest.fixture
async def receiver(stack: Stack) -> AsyncIterator[WebhookReceiver]:
    """A receiver subscribed to the waiting list's events (only), removed at the end."""
    with WebhookReceiver() as server:
        endpoint = {"url": server.url("shop"), "events": WAITLIST_EVENTS}
        created = await stack.api.post("/v1/webhook-endpoints", json=endpoint, headers=ADMIN)
        assert created.status_code == 201, created.text
        server.trust("shop", created.json()["secret"])
        try:
            yield server
        finally:
            await stack.api.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers=ADMIN)


def _of(receiver: WebhookReceiver, entry_id: str) -> list[Received]:
    return [r for r in receiver.accepted("shop") if r.body["data"]["entry"]["id"] == entry_id]


async def _received(receiver: WebhookReceiver, entry_id: str, count: int) -> list[Received]:
    async def found() -> list[Received]:
        return _of(receiver, entry_id)

    return await eventually(
        found, lambda got: len(got) >= count, within=20, every=0.05, what=f"{count} events"
    )


async def test_each_transition_is_one_event_in_the_entrys_order(
    stack: Stack, receiver: WebhookReceiver
) -> None:
    session_id = await stack.new_session(capacity=2)
    taken = [await start_booking(stack.api, session_id, 1) for _ in range(2)]
    ada, bob, cyd = [await wl.join(stack.api, session_id, 1, n) for n in ("ada", "bob", "cyd")]

    await wl.cancel(stack.api, taken[0])
    offer = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    accepted = await stack.api.post(
        f"/v1/waiting-list/{ada}/accept", json={"token": offer["token"]}
    )
    assert accepted.status_code == 201, accepted.text
    again = await stack.api.post(f"/v1/waiting-list/{ada}/accept", json={"token": offer["token"]})
    assert again.json()["id"] == accepted.json()["id"]  # the same booking, no second event

    await wl.cancel(stack.api, taken[1])
    await wl.in_state(stack.api, bob, "offered")
    await wl.lapse_now(stack, session_id, bob)
    await wl.in_state(stack.api, bob, "expired")
    await wl.in_state(stack.api, cyd, "offered")  # the lapsed place moved on
    assert (await stack.api.delete(f"/v1/waiting-list/{cyd}")).status_code == 204

    expected = {
        ada: ["waitlist.joined", "waitlist.offered", "waitlist.accepted"],
        bob: ["waitlist.joined", "waitlist.offered", "waitlist.expired"],
        cyd: ["waitlist.joined", "waitlist.offered", "waitlist.left"],
    }
    for entry_id, types in expected.items():
        got = await _received(receiver, entry_id, len(types))
        assert [r.type for r in got] == types, entry_id
        assert [r.body["data"]["sequence"] for r in got] == [1, 2, 3]
    ada_events = {r.type: r.body["data"]["entry"] for r in _of(receiver, ada)}
    assert ada_events["waitlist.offered"]["offer"]["seats"] == offer["seats"]
    assert ada_events["waitlist.accepted"]["booking_id"] == accepted.json()["id"]
    assert "token" not in ada_events["waitlist.offered"]["offer"]

    # Exactly once: no event written twice, none delivered twice (a redelivery keeps its id).
    async with stack.db() as db:
        stored = list(
            await db.scalars(
                select(WebhookEvent.type).where(
                    WebhookEvent.stream_id.in_([uuid.UUID(e) for e in expected])
                )
            )
        )
    assert Counter(stored) == Counter(t for types in expected.values() for t in types)
    ids = [r.webhook_id for e in expected for r in _of(receiver, e)]
    assert len(ids) == len(set(ids)) == 9
