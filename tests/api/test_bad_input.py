"""Input PostgreSQL or Temporal would refuse is refused at the API edge (issue 9, cases 2 and 7):
422 problem+json naming the field, and nothing written, started or changed."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.booking_workflows import booking_id_for
from messages.booking import booking_workflow_id
from models.tables import Booking, Session
from tests.api.conftest import ADMIN
from tests.conftest import CLIENT_KEY_ID, SessionFactory
from tests.helpers.api_bookings import booking_body, course, start_booking
from tests.helpers.stack import Stack


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("invalid-request")
    assert field in [e["field"] for e in problem["errors"]], problem["errors"]


async def assert_nothing_started(db: async_sessionmaker[AsyncSession], temporal: Client, key: str):
    booking_id = booking_id_for(str(CLIENT_KEY_ID), key)
    async with db() as s:
        assert await s.get(Booking, uuid.UUID(booking_id)) is None
    with pytest.raises(RPCError) as err:
        await temporal.get_workflow_handle(booking_workflow_id(booking_id)).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": {"name": "Ada\x00Lovelace", "email": "ada@example.com"}}, "customer.name"),
        ({"attendees": [{"name": "Grace\x00"}]}, "attendees.0.name"),
        (
            {"attendees": [{"name": "Grace", "special_requirements": "\x00"}]},
            "attendees.0.special_requirements",
        ),
        ({"quantity": None, "seats": ["A\x001"]}, "seats.0"),
        ({"session_id": "x" * 3000}, "session_id"),
        ({"session_id": "not-a-uuid"}, "session_id"),
        # Text that reaches an email header, a PDF, a CSV or a webhook is one line.
        ({"customer": {"name": "Ada\nLovelace", "email": "ada@example.com"}}, "customer.name"),
        ({"customer": {"name": "Ada\rBcc: x", "email": "ada@example.com"}}, "customer.name"),
        ({"attendees": [{"name": "Grace\x85"}]}, "attendees.0.name"),
        ({"attendees": [{"name": "Grace\u2028Hopper"}]}, "attendees.0.name"),
        (
            {"attendees": [{"name": "Grace", "special_requirements": "\x1b[31m"}]},
            "attendees.0.special_requirements",
        ),
        ({"quantity": None, "seats": ["A\t1"]}, "seats.0"),
    ],
    ids=[
        "name",
        "attendee",
        "requirements",
        "seat",
        "long-session-id",
        "session-id",
        "name-newline",
        "name-cr",
        "attendee-c1",
        "attendee-line-separator",
        "requirements-escape",
        "seat-tab",
    ],
)
async def test_a_booking_with_unstorable_text_is_refused_and_nothing_starts(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    session_id = await stack.new_session(capacity=4)
    key = str(uuid.uuid4())
    body = {**booking_body(session_id), **change}
    response = await stack.api.post("/v1/bookings", json=body, headers={"Idempotency-Key": key})
    assert_refused(response, f"body.{field}")
    await assert_nothing_started(stack.db, stack.temporal, key)
    availability = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["availability"]
    assert availability["held"] == 0


async def test_a_lone_surrogate_is_refused(stack: Stack) -> None:
    """Valid JSON (an escaped lone surrogate) that no UTF-8 column can store."""
    key = str(uuid.uuid4())
    body = json.dumps(booking_body(await stack.new_session(capacity=4))).replace("Ada", "\\ud800")
    response = await stack.api.post(
        "/v1/bookings",
        content=body,
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert_refused(response, "body.customer.name")
    await assert_nothing_started(stack.db, stack.temporal, key)


async def test_a_nul_in_the_cancel_reason_is_refused_and_the_booking_is_untouched(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=4)
    booking = await start_booking(api, session_id, 2)
    response = await api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill\x00"})
    assert_refused(response, "body.reason")
    after = (await api.get(f"/v1/bookings/{booking['id']}")).json()
    assert (after["status"], after["updated_at"]) == ("PENDING_PAYMENT", booking["updated_at"])
    assert (await api.get(f"/v1/sessions/{session_id}")).json()["availability"]["held"] == 2
    # The booking can still be cancelled with a clean reason.
    cancelled = await api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"})
    assert cancelled.json()["status_reason"] == "ill"


async def test_a_nul_in_a_query_or_path_parameter_is_refused(api: httpx.AsyncClient) -> None:
    nul_location = await api.get("/v1/sessions", params={"location": "Leeds\x00"})
    assert_refused(nul_location, "query.location")
    assert_refused(await api.get("/v1/sessions", params={"q": "\x00"}), "query.q")
    assert_refused(await api.get("/v1/bookings/%00"), "path.booking_id")
    assert_refused(await api.post(f"/v1/bookings/{uuid.uuid4()}%00/cancel"), "path.booking_id")
    assert_refused(await api.get("/v1/sessions/a%00b"), "path.session_id")


async def test_a_session_with_unstorable_text_is_refused_and_nothing_written(
    api: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    location = f"Nowhere {uuid.uuid4().hex[:8]}"
    bad = [
        (course(location=location, title="First\x00Aid"), "body.title"),
        (course(location="Leeds\x00"), "body.location"),
        (course(location=location, starts_at="0001-01-01T00:00:00+01:00"), "body.starts_at"),
        (course(location=location, ends_at="9999-12-31T23:59:59-14:00"), "body.ends_at"),
    ]
    for body, field in bad:
        assert_refused(await api.post("/v1/sessions", json=body, headers=ADMIN), field)
    async with db() as s:
        assert await s.scalar(select(func.count()).where(Session.location == location)) == 0


async def test_duplicated_seat_rows_and_oversized_maps_are_refused(
    api: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    location = f"Rows {uuid.uuid4().hex[:8]}"
    seated = {"kind": "seated", "capacity": None, "location": location}
    twice = course(**seated, seat_map=[{"label": "A", "seats": 3}, {"label": "A", "seats": 2}])
    rows = [{"label": f"R{chr(65 + i)}", "seats": 500} for i in range(21)]  # 10,500 places
    huge = course(**seated, seat_map=rows)
    for body in (twice, huge):
        response = await api.post("/v1/sessions", json=body, headers=ADMIN)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    async with db() as s:
        assert await s.scalar(select(func.count()).where(Session.location == location)) == 0


async def test_offsets_beyond_int64_and_odd_ids_are_refused_before_the_database(
    api: httpx.AsyncClient,
) -> None:
    assert_refused(await api.get("/v1/sessions", params={"offset": 2**63}), "query.offset")
    assert_refused(await api.get("/v1/sessions", params={"offset": 10**30}), "query.offset")
    last = await api.get("/v1/sessions", params={"offset": 2**63 - 1})
    assert (last.status_code, last.json()["items"]) == (200, [])
    for path in (f"/v1/sessions/{'9' * 3000}", "/v1/sessions/nope"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["type"].endswith("session-not-found")
    cancel = await api.post(f"/v1/sessions/{'x' * 3000}/cancel", headers=ADMIN)
    assert cancel.status_code == 404


async def test_control_characters_are_refused_in_every_text_that_leaves_the_engine(
    stack: Stack,
) -> None:
    """Titles, locations, reasons and webhook endpoints' texts, each named in its 422."""
    location = f"Lines {uuid.uuid4().hex[:8]}"
    for body, field in [
        (course(location=location, title="First\nAid"), "body.title"),
        (course(location=location + "\r"), "body.location"),
    ]:
        assert_refused(await stack.api.post("/v1/sessions", json=body, headers=ADMIN), field)
    async with stack.db() as s:
        assert await s.scalar(select(func.count()).where(Session.location == location)) == 0
    booking = await start_booking(stack.api, await stack.new_session(capacity=4), 2)
    path = f"/v1/bookings/{booking['id']}"
    assert_refused(await stack.api.post(f"{path}/cancel", json={"reason": "ill\n"}), "body.reason")
    refund = {"amount": 100, "reason": "goodwill\x07"}
    assert_refused(
        await stack.api.post(f"{path}/refunds", json=refund, headers=ADMIN), "body.reason"
    )
    places = {"count": 1, "reason": "two\nlines"}
    assert_refused(await stack.api.post(f"{path}/cancel-places", json=places), "body.reason")
    endpoint = {"url": "https://example.com/hook", "events": ["booking.confirmed"]}
    for change, field in [
        ({"description": "a\nb"}, "description"),
        ({"url": "https://e.x/\n"}, "url"),
    ]:
        response = await stack.api.post(
            "/v1/webhook-endpoints", json={**endpoint, **change}, headers=ADMIN
        )
        assert_refused(response, f"body.{field}")
    assert (await stack.api.get(path)).json()["updated_at"] == booking["updated_at"]
