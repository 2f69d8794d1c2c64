"""Request limits (issue 10): every oversized input is a 4xx problem+json, never a 5xx; the body
size limit itself is tested in test_body_limit.py."""

import uuid
from typing import Any

import httpx
import pytest

from messages.booking import MAX_PLACES_PER_BOOKING
from tests.conftest import ADMIN_KEY, SessionFactory
from tests.helpers.api_bookings import booking_body, course

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LONG = "x" * 5000


def _oversized(session_id: str) -> dict[str, tuple[str, str, dict[str, Any], Any, int]]:
    """name -> (method, path, headers, body, status)."""
    many = MAX_PLACES_PER_BOOKING + 1
    attendees = [{"name": f"Attendee {n}"} for n in range(many)]
    return {
        "customer name": ("POST", "/v1/bookings", {}, _booking(session_id, name=LONG), 422),
        "customer email": (
            "POST",
            "/v1/bookings",
            {},
            _booking(session_id, email=f"{LONG}@example.com"),
            422,
        ),
        "quantity": ("POST", "/v1/bookings", {}, booking_body(session_id, 10**30), 422),
        "places": ("POST", "/v1/bookings", {}, booking_body(session_id, many), 422),
        "attendees": (
            "POST",
            "/v1/bookings",
            {},
            booking_body(session_id, MAX_PLACES_PER_BOOKING, attendees=attendees),
            422,
        ),
        "special requirements": (
            "POST",
            "/v1/bookings",
            {},
            booking_body(session_id, 1, attendees=[{"name": "A", "special_requirements": LONG}]),
            422,
        ),
        "seat label": ("POST", "/v1/bookings", {}, {**_booking(session_id), "seats": [LONG]}, 422),
        "idempotency key": ("POST", "/v1/bookings", {"Idempotency-Key": LONG}, None, 422),
        "cancel reason": ("POST", f"/v1/bookings/{uuid.uuid4()}/cancel", {}, {"reason": LONG}, 422),
        "booking id": ("GET", f"/v1/bookings/{LONG}", {}, None, 404),
        "session id": ("GET", f"/v1/sessions/{LONG}", {}, None, 404),
        "search text": ("GET", f"/v1/sessions?q={LONG}", {}, None, 422),
        "location filter": ("GET", f"/v1/sessions?location={LONG}", {}, None, 422),
        "page size": ("GET", "/v1/sessions?limit=1000000", {}, None, 422),
        "session title": ("POST", "/v1/sessions", ADMIN, course(title=LONG), 422),
        "session capacity": ("POST", "/v1/sessions", ADMIN, course(capacity=10**9), 422),
        "seat map": (
            "POST",
            "/v1/sessions",
            ADMIN,
            course(kind="seated", capacity=None, seat_map=[{"label": "A", "seats": 10**6}]),
            422,
        ),
        "price": ("POST", "/v1/sessions", ADMIN, course(price_amount=10**12), 422),
        "api key": ("GET", "/v1/sessions", {"Authorization": f"Bearer {LONG}"}, None, 401),
    }


def _booking(session_id: str, name: str = "Ada", email: str = "ada@example.com") -> dict[str, Any]:
    return booking_body(session_id, 1) | {"customer": {"name": name, "email": email}}


NAMES = list(_oversized(str(uuid.uuid4())))


@pytest.mark.parametrize("name", NAMES)
async def test_an_oversized_input_is_a_4xx_problem(
    name: str, api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    method, path, headers, body, status = _oversized(await new_session(capacity=2))[name]
    if body is None and method == "POST":
        body = booking_body(str(uuid.uuid4()))
    response = await api.request(method, path, headers=headers, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
