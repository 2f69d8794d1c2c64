"""The waiting list end to end, against the real servers: joins refused while places are free,
offers that hold their places, acceptance into a paid booking with exactly those places,
declines and lapses that move on, and the list ending with its session; reconcile clean after.

Offers here last a second or two (`offer_seconds` set through the admin PATCH), so no test
waits for long."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.pay import pay
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import booking_body, start_booking, wait_for_status
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.histories import WAITING_LIST_HISTORIES, keep_workflow_history
from tests.waiting_list import helpers as wl


async def _offers_last(api: httpx.AsyncClient, session_id: str, seconds: int) -> None:
    response = await api.patch(
        f"/v1/sessions/{session_id}/waiting-list", json={"offer_seconds": seconds}, headers=ADMIN
    )
    assert response.status_code == 200, response.text


async def test_joining_while_places_are_free_answers_409_with_them(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=3)
    response = await stack.api.post(
        f"/v1/sessions/{session_id}/waiting-list", json=wl.join_body(2, "early")
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["available"] == 3


async def test_an_offer_holds_its_places_and_accepting_confirms_exactly_them(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=2)
    first = await start_booking(stack.api, session_id, 2)
    key = str(uuid.uuid4())
    entry_id = await _join_with_key(stack.api, session_id, key)
    again = await stack.api.post(
        f"/v1/sessions/{session_id}/waiting-list",
        json=wl.join_body(2, "ada"),
        headers={"Idempotency-Key": key},
    )
    assert again.json()["id"] == entry_id  # the same key, the same entry
    assert (await wl.entry(stack.api, entry_id))["position"] == 1

    await wl.cancel(stack.api, first)
    offered = await wl.in_state(stack.api, entry_id, "offered")
    assert sorted(offered["offer"]["seats"]) == sorted(first["seats"])
    # Held for the offer: nobody else can book them.
    sold_out = await stack.api.post("/v1/bookings", json=booking_body(session_id, 1))
    assert sold_out.status_code == 409 and sold_out.json()["type"].endswith("sold-out")
    wrong = await stack.api.post(
        f"/v1/waiting-list/{entry_id}/accept", json={"token": "not-the-token"}
    )
    assert wrong.status_code == 409

    accepted = await stack.api.post(
        f"/v1/waiting-list/{entry_id}/accept", json={"token": offered["offer"]["token"]}
    )
    assert accepted.status_code == 201, accepted.text
    booking = accepted.json()
    assert booking["status"] == "PENDING_PAYMENT"
    assert sorted(booking["seats"]) == sorted(offered["offer"]["seats"])
    assert await pay(stack.stripe_client, booking["payment"]["payment_intent_id"]) == "succeeded"
    confirmed = await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    assert sorted(confirmed["seats"]) == sorted(offered["offer"]["seats"])
    entry = await wl.entry(stack.api, entry_id)
    assert entry["state"] == "accepted" and entry["booking_id"] == booking["id"]
    offers = [r for r in stack.sendgrid.requests if _key(r).startswith(f"waiting-list:{entry_id}")]
    assert [_key(r) for r in offers] == [f"waiting-list:{entry_id}:offered:1"]  # once

    world = World([session_id], {"first": first, "accepted": confirmed})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def test_a_decline_then_a_lapse_move_the_places_on_and_back(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=1)
    await _offers_last(stack.api, session_id, 2)
    booking = await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    bob = await wl.join(stack.api, session_id, 1, "bob")
    assert (await wl.entry(stack.api, bob))["position"] == 2

    await wl.cancel(stack.api, booking)
    offer = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    declined = await stack.api.post(
        f"/v1/waiting-list/{ada}/decline", json={"token": offer["token"]}
    )
    assert declined.json()["state"] == "declined", declined.text
    assert (await wl.in_state(stack.api, bob, "offered"))["offer"]["seats"] == offer["seats"]
    # Bob lets it lapse: nobody is left, and the place is free to book again.
    await wl.in_state(stack.api, bob, "expired")
    await eventually(
        lambda: _sessions_free(stack.api, session_id), lambda n: n == 1, what="the place free"
    )
    assert (await wl.entry(stack.api, ada))["state"] == "declined"  # never offered again
    # Nobody left waiting: the workflow completes.
    workflow_id = f"waiting-list-{session_id}"
    assert await stack.temporal.get_workflow_handle(workflow_id).result() >= 1
    await keep_workflow_history(
        stack.temporal, workflow_id, WAITING_LIST_HISTORIES / "declined-then-lapsed"
    )


async def test_cancelling_the_session_ends_its_list(stack: Stack) -> None:
    session_id, ada, bob = await _offered_to_the_first_of_two(stack)

    response = await stack.api.post(f"/v1/sessions/{session_id}/cancel", headers=ADMIN)
    assert response.status_code == 200, response.text
    for entry_id in (ada, bob):
        await wl.in_state(stack.api, entry_id, "closed")
    listed = await stack.api.get(f"/v1/sessions/{session_id}/waiting-list", headers=ADMIN)
    assert [e["position"] for e in listed.json()["entries"]] == [None, None]
    workflow_id = f"waiting-list-{session_id}"
    assert await stack.temporal.get_workflow_handle(workflow_id).result() >= 1  # it completed
    await keep_workflow_history(
        stack.temporal, workflow_id, WAITING_LIST_HISTORIES / "ended-by-session-cancel"
    )
    # Each told once (other tests' lists, ended by the safety net say, email their own).
    closing = [_key(r).split(":")[1] for r in stack.sendgrid.requests if ":closed:" in _key(r)]
    assert sorted(e for e in closing if e in (ada, bob)) == sorted([ada, bob])


@pytest.mark.parametrize("state", ["paused", "closed"])
async def test_a_paused_or_closed_list_takes_no_one(stack: Stack, state: str) -> None:
    session_id = await stack.new_session(capacity=1)
    await start_booking(stack.api, session_id, 1)
    response = await stack.api.patch(
        f"/v1/sessions/{session_id}/waiting-list", json={"status": state}, headers=ADMIN
    )
    assert response.json()["status"] == state
    refused = await stack.api.post(
        f"/v1/sessions/{session_id}/waiting-list", json=wl.join_body(1, "late")
    )
    assert refused.status_code == 409 and refused.json()["type"].endswith("waiting-list-closed")


async def _offered_to_the_first_of_two(stack: Stack) -> tuple[str, str, str]:
    """A session of one place whose booking was cancelled with two entries waiting: the first
    is offered the place. (session id, first entry, second entry)"""
    session_id = await stack.new_session(capacity=1)
    booking = await start_booking(stack.api, session_id, 1)
    first = await wl.join(stack.api, session_id, 1, "ada")
    second = await wl.join(stack.api, session_id, 1, "bob")
    await wl.cancel(stack.api, booking)
    await wl.in_state(stack.api, first, "offered")
    return session_id, first, second


async def _join_with_key(api: httpx.AsyncClient, session_id: str, key: str) -> str:
    response = await api.post(
        f"/v1/sessions/{session_id}/waiting-list",
        json=wl.join_body(2, "ada"),
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _sessions_free(api: httpx.AsyncClient, session_id: str) -> int:
    session = (await api.get(f"/v1/sessions/{session_id}")).json()
    return int(session["availability"]["available"])


def _key(request: Any) -> str:
    return str(request.body.get("custom_args", {}).get("notification_key", ""))


async def test_a_session_that_starts_ends_its_list(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=1, starts_in=timedelta(seconds=4))
    await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    await wl.in_state(stack.api, ada, "closed")  # the workflow's timer at the start


async def test_an_offer_made_near_the_start_lapses_at_the_start(stack: Stack) -> None:
    """12 hours by default, but the session starts sooner: the deadline is its start."""
    session_id = await stack.new_session(capacity=1, starts_in=timedelta(minutes=10))
    booking = await start_booking(stack.api, session_id, 1)
    ada = await wl.join(stack.api, session_id, 1, "ada")
    await wl.cancel(stack.api, booking)
    offer = (await wl.in_state(stack.api, ada, "offered"))["offer"]
    session = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    assert datetime.fromisoformat(offer["expires_at"]) == datetime.fromisoformat(
        session["starts_at"]
    )


async def test_cancellations_racing_bookings_never_oversell_and_every_place_finds_a_taker(
    stack: Stack, run_check: Check
) -> None:
    session_id = await stack.new_session(capacity=3)
    bookings = [await start_booking(stack.api, session_id, 1) for _ in range(3)]
    entries = [await wl.join(stack.api, session_id, 1, f"w{n}") for n in range(3)]

    async def buy() -> httpx.Response:
        return await stack.api.post("/v1/bookings", json=booking_body(session_id, 1))

    answers = await asyncio.gather(
        *[wl.cancel(stack.api, b) for b in bookings], *[buy() for _ in range(6)]
    )
    bought = [r.json() for r in answers if isinstance(r, httpx.Response) and r.status_code == 201]

    async def settled_list() -> list[str]:
        return [(await wl.entry(stack.api, e))["state"] for e in entries]

    states = await eventually(
        settled_list,
        lambda s: s.count("offered") + len(bought) == 3,
        what="every place given back bought or offered",
    )
    assert set(states) <= {"offered", "waiting"}
    assert await _sessions_free(stack.api, session_id) == 0
    world = World([session_id], {f"b{n}": b for n, b in enumerate([*bookings, *bought])})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def test_leaving_gives_the_offer_on_and_the_entry_is_gone(stack: Stack) -> None:
    session_id, ada, bob = await _offered_to_the_first_of_two(stack)

    assert (await stack.api.delete(f"/v1/waiting-list/{ada}")).status_code == 204
    assert (await stack.api.get(f"/v1/waiting-list/{ada}")).status_code == 404
    assert (await stack.api.delete(f"/v1/waiting-list/{ada}")).status_code == 404
    await wl.in_state(stack.api, bob, "offered")
    listed = await stack.api.get(f"/v1/sessions/{session_id}/waiting-list", headers=ADMIN)
    assert [e["state"] for e in listed.json()["entries"]] == ["left", "offered"]
