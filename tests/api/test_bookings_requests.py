"""POST /v1/bookings: idempotency, concurrency and every kind of bad input."""

import uuid

import httpx
import pytest

from tests.helpers.api_bookings import at_once, booking_body, start_booking
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack


async def test_same_key_and_body_returns_the_same_booking(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    key = str(uuid.uuid4())
    first = await start_booking(stack.api, session_id, 2, key=key)
    second = await start_booking(stack.api, session_id, 2, key=key)
    assert second["id"] == first["id"]
    assert second["payment"] == first["payment"]
    session = (await stack.api.get(f"/v1/sessions/{session_id}")).json()
    assert session["availability"]["held"] == 2


async def test_same_key_with_another_body_is_refused(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    key = str(uuid.uuid4())
    await start_booking(stack.api, session_id, 2, key=key)
    response = await stack.api.post(
        "/v1/bookings", json=booking_body(session_id, 3), headers={"Idempotency-Key": key}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("idempotency-key-reused")


async def test_replay_after_the_workflow_closed_answers_from_the_database(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    key = str(uuid.uuid4())
    booking = await start_booking(stack.api, session_id, 1, key=key)
    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).json()[
        "status"
    ] == "CANCELLED"
    replay = await stack.api.post(
        "/v1/bookings", json=booking_body(session_id, 1), headers={"Idempotency-Key": key}
    )
    assert replay.status_code == 201  # the same answer as the first time, as Stripe does
    assert (replay.json()["id"], replay.json()["status"]) == (booking["id"], "CANCELLED")


async def test_100_concurrent_bookings_for_12_places(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=12)
    responses = await at_once(stack.api, session_id, 100)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 12, [r.text for r in responses if r.status_code not in (201, 409)]
    assert statuses.count(409) == 88, [r.text for r in responses if r.status_code != 201][:2]
    assert all(r.json()["type"].endswith("sold-out") for r in responses if r.status_code == 409)
    seats = [s for r in responses if r.status_code == 201 for s in r.json()["seats"]]
    assert len(set(seats)) == 12
    availability = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["availability"]
    assert availability == {"capacity": 12, "held": 12, "sold": 0, "available": 0}
    # The refused ones leave no workflow running (visibility catches up within moments).
    query = f"SessionId = '{session_id}' AND ExecutionStatus = 'Running'"
    await eventually(
        lambda: stack.temporal.count_workflows(query),
        lambda running: running.count == 12,
        within=5,
        what="12 running",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": 51}, "body.quantity"),
        ({"customer": {"name": "Ada", "email": "not-an-email"}}, "body.customer.email"),
        ({"customer": {"name": "", "email": "ada@example.com"}}, "body.customer.name"),
        ({"quantity": None}, "body"),
        ({"seats": ["A1", "A1"], "quantity": None}, "body"),
        ({"attendees": [{"name": "a"}, {"name": "b"}], "quantity": 1}, "body"),
    ],
    ids=[
        "zero",
        "above-bound",
        "bad-email",
        "empty-name",
        "no-places",
        "seat-twice",
        "too-many-attendees",
    ],
)
async def test_invalid_input_gets_field_errors(stack: Stack, body: dict, field: str) -> None:
    session_id = await stack.new_session(capacity=12)
    response = await stack.api.post("/v1/bookings", json={**booking_body(session_id), **body})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("invalid-request")
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    availability = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["availability"]
    assert availability["held"] == 0


async def test_unknown_session_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/bookings", json=booking_body(str(uuid.uuid4())))
    assert response.status_code == 404
    assert response.json()["type"].endswith("session-not-found")


async def test_a_seat_of_another_session_is_422(stack: Stack) -> None:
    from store.catalog import SeatRow

    session_id = await stack.new_session(seat_rows=[SeatRow("A", 4)])
    response = await stack.api.post(
        "/v1/bookings", json={**booking_body(session_id), "quantity": None, "seats": ["A1", "Q7"]}
    )
    assert response.status_code == 422
    assert response.json()["seats"] == ["Q7"]


async def test_taken_seat_is_409(stack: Stack) -> None:
    from store.catalog import SeatRow

    session_id = await stack.new_session(seat_rows=[SeatRow("A", 4)])
    ask = {**booking_body(session_id), "quantity": None, "seats": ["A2", "A3"]}
    assert (await stack.api.post("/v1/bookings", json=ask)).status_code == 201
    clash = {**ask, "seats": ["A3", "A4"]}
    response = await stack.api.post("/v1/bookings", json=clash)
    assert response.status_code == 409
    assert response.json()["type"].endswith("seats-unavailable")
    assert response.json()["seats"] == ["A3"]


async def test_unknown_booking_is_404(api: httpx.AsyncClient) -> None:
    for path in (f"/v1/bookings/{uuid.uuid4()}", "/v1/bookings/nope"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["type"].endswith("booking-not-found")
    cancel = await api.post(f"/v1/bookings/{uuid.uuid4()}/cancel")
    assert cancel.status_code == 404


async def test_api_keys_are_required(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as anonymous:
        missing = await anonymous.get("/v1/sessions")
        wrong = await anonymous.get("/v1/sessions", headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["content-type"] == "application/problem+json"
