"""Sessions: admins create them; callers list and filter them with availability."""

import uuid
from datetime import timedelta

import httpx

from messages.sessions import session_cancellation_id
from tests.api.conftest import VariantFactory
from tests.conftest import ADMIN_KEY, SessionFactory
from tests.helpers.api_bookings import course, start_booking, wait_for_status
from tests.helpers.stack import Stack

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_admin_creates_a_course_and_it_is_listed(api: httpx.AsyncClient) -> None:
    body = course()
    created = await api.post("/v1/sessions", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["availability"] == {"capacity": 8, "held": 0, "sold": 0, "available": 8}
    assert session["group_discount"] == {"min_quantity": 4, "percent": 15}

    found = (await api.get("/v1/sessions", params={"location": body["location"]})).json()
    assert [s["id"] for s in found["items"]] == [session["id"]]
    assert found["total"] == 1
    by_text = await api.get("/v1/sessions", params={"q": body["location"], "kind": "seated"})
    assert by_text.json()["total"] == 0


async def test_admin_creates_a_seated_event_from_a_seat_map(api: httpx.AsyncClient) -> None:
    body = course(
        kind="seated",
        capacity=None,
        seat_map=[{"label": "A", "seats": 3}, {"label": "B", "seats": 2}],
    )
    created = await api.post("/v1/sessions", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["availability"]["capacity"] == 5
    booking = await api.post(
        "/v1/bookings",
        json={
            "session_id": created.json()["id"],
            "seats": ["B2"],
            "customer": {"name": "Grace", "email": "grace@example.com"},
        },
    )
    assert booking.json()["seats"] == ["B2"]


async def test_clients_cannot_create_sessions(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/sessions", json=course())
    assert response.status_code == 403
    assert response.json()["type"].endswith("forbidden")


async def test_bad_session_input_is_422(api: httpx.AsyncClient) -> None:
    bad = [
        course(ends_at="2031-03-01T08:00:00Z"),
        course(starts_at="2031-03-01T09:00:00"),
        course(currency="gbp"),
        course(kind="seated", capacity=None),
        course(price_amount=-1),
    ]
    for body in bad:
        response = await api.post("/v1/sessions", json=body, headers=ADMIN)
        assert response.status_code == 422, body


async def test_listing_is_paginated(api: httpx.AsyncClient) -> None:
    location = f"Paged {uuid.uuid4().hex[:6]}"
    for _ in range(3):
        await api.post("/v1/sessions", json=course(location=location), headers=ADMIN)
    first = (await api.get("/v1/sessions", params={"location": location, "limit": 2})).json()
    rest = (
        await api.get("/v1/sessions", params={"location": location, "limit": 2, "offset": 2})
    ).json()
    assert (len(first["items"]), len(rest["items"]), first["total"]) == (2, 1, 3)
    assert not {s["id"] for s in first["items"]} & {s["id"] for s in rest["items"]}


async def test_unknown_session_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/v1/sessions/{uuid.uuid4()}")
    assert response.status_code == 404


async def test_a_long_session_cancellation_answers_202_with_its_progress(
    stack: Stack, api_variant: VariantFactory
) -> None:
    session_id = await stack.new_session(capacity=4)
    booking = await start_booking(stack.api, session_id, 2)
    async with api_variant(cancel_wait_seconds=0) as impatient:
        response = await impatient.post(f"/v1/sessions/{session_id}/cancel", headers=ADMIN)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/sessions/{session_id}"
    progress = response.json()
    assert progress["finished"] is False and progress["done"] <= progress["total"] <= 1
    # The workflow goes on without the request; a second call finds it (the same workflow).
    await stack.temporal.get_workflow_handle(session_cancellation_id(session_id)).result()
    await wait_for_status(stack.api, booking["id"], "CANCELLED")
    again = await stack.api.post(f"/v1/sessions/{session_id}/cancel", headers=ADMIN)
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["finished"], body["total"], body["session"]["status"]) == (True, 0, "cancelled")
    assert body["session"]["availability"]["held"] == 0


async def test_a_session_that_has_started_cannot_be_cancelled(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=2, starts_in=timedelta(0))
    response = await api.post(f"/v1/sessions/{session_id}/cancel", headers=ADMIN)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("session-not-bookable")
