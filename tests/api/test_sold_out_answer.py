"""A request the database already shows cannot be met is answered 409 before any workflow
starts; the workflow's reservation stays the only authority on who gets places."""

import uuid
from collections import Counter
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.booking_workflows import booking_id_for
from messages.booking import booking_workflow_id
from store.catalog import SeatRow
from tests.conftest import CLIENT_KEY_ID
from tests.helpers.api_bookings import at_once, booking_body, start_booking
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack

SOLD_OUT = "urn:booking-engine:problem:sold-out"


async def refused(api: httpx.AsyncClient, body: dict[str, Any], key: str) -> dict[str, Any]:
    response = await api.post("/v1/bookings", json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()  # type: ignore[no-any-return]


async def assert_never_started(temporal: Client, key: str) -> None:
    """The booking id the key maps to has no workflow at all on the Temporal server."""
    booking_id = booking_id_for(str(CLIENT_KEY_ID), key)
    try:
        await temporal.get_workflow_handle(booking_workflow_id(booking_id)).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
    else:
        raise AssertionError(f"a workflow was started for booking {booking_id}")


async def workflows_of(temporal: Client, session_id: str, expected: int) -> int:
    """How many booking workflows the session has (visibility catches up within moments)."""

    async def count() -> int:
        return (await temporal.count_workflows(f"SessionId = '{session_id}'")).count

    return await eventually(count, lambda n: n == expected, within=5, what=f"{expected} workflows")


async def test_a_sold_out_session_is_409_without_a_workflow(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=2)
    await start_booking(stack.api, session_id, 2)
    key = str(uuid.uuid4())

    problem = await refused(stack.api, booking_body(session_id), key)

    assert problem["type"].endswith(":sold-out") and problem["title"] == "Not enough places left"
    assert (problem["detail"], problem["available"]) == ("1 places asked for, 0 left", 0)
    await assert_never_started(stack.temporal, key)
    assert await workflows_of(stack.temporal, session_id, 1) == 1


async def test_fewer_places_than_asked_is_409_without_a_workflow(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=3)
    await start_booking(stack.api, session_id, 2)
    key = str(uuid.uuid4())

    problem = await refused(stack.api, booking_body(session_id, 2), key)

    assert (problem["detail"], problem["available"]) == ("2 places asked for, 1 left", 1)
    await assert_never_started(stack.temporal, key)
    assert (await start_booking(stack.api, session_id, 1))["status"] == "PENDING_PAYMENT"


async def test_a_taken_seat_is_409_without_a_workflow(stack: Stack) -> None:
    session_id = await stack.new_session(seat_rows=[SeatRow("A", 4)])
    seats = {**booking_body(session_id), "quantity": None}
    assert (
        await stack.api.post("/v1/bookings", json={**seats, "seats": ["A3"]})
    ).status_code == 201
    key = str(uuid.uuid4())

    problem = await refused(stack.api, {**seats, "seats": ["A4", "A3", "A1"]}, key)

    assert problem["type"].endswith(":seats-unavailable")
    assert (problem["detail"], problem["seats"]) == ("seats already taken: A3", ["A3"])
    await assert_never_started(stack.temporal, key)
    # A taken seat beside an unknown one: the reservation names the unknown one (422).
    unknown = await stack.api.post("/v1/bookings", json={**seats, "seats": ["A3", "Z9"]})
    assert unknown.status_code == 422 and unknown.json()["seats"] == ["Z9"]


async def test_a_retry_after_the_sell_out_gets_the_original_answer(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=3)
    key = str(uuid.uuid4())
    original = await start_booking(stack.api, session_id, 1, key=key)
    await start_booking(stack.api, session_id, 2)  # now sold out

    retried = await start_booking(stack.api, session_id, 1, key=key)

    assert retried["id"] == original["id"] and retried["seats"] == original["seats"]
    assert retried["payment"] == original["payment"]
    assert retried["status"] == "PENDING_PAYMENT"


async def test_sixty_buyers_for_five_places(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=5)
    responses = await at_once(stack.api, session_id, 60)

    assert Counter(r.status_code for r in responses) == {201: 5, 409: 55}
    # Refused by the pre-check or by the reservation: the same answer either way.
    refusals = [r.json() for r in responses if r.status_code == 409]
    assert {(p["type"], p["title"], p["detail"], p["available"]) for p in refusals} == {
        (SOLD_OUT, "Not enough places left", "1 places asked for, 0 left", 0)
    }
    seats = [s for r in responses if r.status_code == 201 for s in r.json()["seats"]]
    assert len(set(seats)) == 5
    availability = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["availability"]
    assert availability == {"capacity": 5, "held": 5, "sold": 0, "available": 0}
    late = await refused(stack.api, booking_body(session_id), str(uuid.uuid4()))
    assert late["detail"] == "1 places asked for, 0 left"
