"""Organisations (issue 10): another organisation's session or booking answers exactly as a
missing one on every route; lists and new sessions are the caller's organisation's; migration
0003 carries existing sessions into the default organisation."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.payments import make_stripe_client
from clients.booking_workflows import booking_id_for
from devstack.postgres import Cluster
from messages import search_attributes as sa
from messages.booking import booking_workflow_id
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.conftest import (
    ADMIN_KEY,
    CLIENT_KEY,
    OTHER_ADMIN_KEY,
    OTHER_CLIENT_KEY,
    OTHER_ORGANISATION_ID,
    TEST_KEYS,
)
from tests.helpers.api_bookings import booking_body, course, paid_booking, wait_for_status
from tests.helpers.database import alembic, scratch_database
from tests.helpers.polling import eventually


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Owned:
    """What the default organisation owns: a session, a paid booking (it has a receipt), a
    refunded one (a credit note), and a session kept for the cancel attempt."""

    session_id: str
    spare_session_id: str
    confirmed_id: str
    refunded_id: str


@pytest.fixture(scope="module")
async def owned(api_url: str, localstripe_url: str) -> AsyncIterator[Owned]:
    stripe_client = make_stripe_client("sk_test_localstripe", localstripe_url)
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(CLIENT_KEY), timeout=30) as api:
        sessions = []
        for _ in range(2):
            created = await api.post("/v1/sessions", json=course(), headers=bearer(ADMIN_KEY))
            assert created.status_code == 201, created.text
            sessions.append(created.json()["id"])
        confirmed = await paid_booking(api, stripe_client, sessions[0])
        refunded = await paid_booking(api, stripe_client, sessions[0])
        cancelled = await api.post(f"/v1/bookings/{refunded['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await wait_for_status(api, refunded["id"], "REFUNDED")
        for path in (
            f"/v1/bookings/{confirmed['id']}/receipt.pdf",
            f"/v1/bookings/{refunded['id']}/credit-note.pdf",
        ):
            await _until_ok(api, path)
        yield Owned(sessions[0], sessions[1], confirmed["id"], refunded["id"])


async def _until_ok(api: httpx.AsyncClient, path: str) -> None:
    await eventually(
        lambda: api.get(path), lambda answer: answer.status_code == 200, within=15, what=path
    )


# (method, path, body): {session}, {spare} and {booking}, {refunded} name the owner's things.
ROUTES = {
    "read session": ("GET", "/v1/sessions/{session}", None),
    "cancel session": ("POST", "/v1/sessions/{spare}/cancel", None),
    "book session": ("POST", "/v1/bookings", "{session}"),
    "read booking": ("GET", "/v1/bookings/{booking}", None),
    "cancel booking": ("POST", "/v1/bookings/{booking}/cancel", None),
    "receipt": ("GET", "/v1/bookings/{booking}/receipt.pdf", None),
    "credit note": ("GET", "/v1/bookings/{refunded}/credit-note.pdf", None),
}


def _request(route: str, names: dict[str, str]) -> tuple[str, str, dict[str, Any] | None]:
    method, path, body_session = ROUTES[route]
    body = booking_body(body_session.format(**names)) if body_session else None
    return method, path.format(**names), body


@pytest.mark.parametrize("key", [OTHER_CLIENT_KEY, OTHER_ADMIN_KEY])
@pytest.mark.parametrize("route", list(ROUTES))
async def test_another_organisations_things_answer_as_missing_ones(
    route: str, key: str, owned: Owned, api_url: str, temporal: Client
) -> None:
    theirs = {
        "session": owned.session_id,
        "spare": owned.spare_session_id,
        "booking": owned.confirmed_id,
        "refunded": owned.refunded_id,
    }
    missing = {name: str(uuid.uuid4()) for name in theirs}
    idempotency_key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(key), timeout=30) as other:
        answers = []
        for names in (theirs, missing):
            method, path, body = _request(route, names)
            headers = {"Idempotency-Key": str(uuid.uuid4())} if body else {}
            if names is theirs and body:
                headers["Idempotency-Key"] = idempotency_key
            answers.append(await other.request(method, path, json=body, headers=headers))
    found, absent = answers
    assert found.status_code == absent.status_code, found.text
    if key == OTHER_ADMIN_KEY or route != "cancel session":  # a client may not cancel sessions
        assert found.status_code == 404, found.text
    assert found.headers["content-type"] == "application/problem+json"
    assert _without_ids(found.json(), theirs) == _without_ids(absent.json(), missing)

    async with httpx.AsyncClient(base_url=api_url, headers=bearer(CLIENT_KEY)) as owner:
        booking = (await owner.get(f"/v1/bookings/{owned.confirmed_id}")).json()
        spare = (await owner.get(f"/v1/sessions/{owned.spare_session_id}")).json()
    assert (booking["status"], spare["status"]) == ("CONFIRMED", "scheduled")
    if route == "book session":  # refused before any workflow started
        booking_id = booking_id_for(str(TEST_KEYS[key][0]), idempotency_key)
        with pytest.raises(RPCError) as no_workflow:
            await temporal.get_workflow_handle(booking_workflow_id(booking_id)).describe()
        assert no_workflow.value.status == RPCStatusCode.NOT_FOUND


def _without_ids(problem: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    detail = problem["detail"]
    for name, value in names.items():
        detail = detail.replace(value, f"<{name}>")
    return {**problem, "detail": detail}


async def test_each_organisation_lists_and_makes_its_own_sessions(api_url: str) -> None:
    marker = f"Tenancy {uuid.uuid4().hex[:8]}"
    made: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for admin in (ADMIN_KEY, OTHER_ADMIN_KEY):
            created = await http.post(
                "/v1/sessions", json=course(location=marker), headers=bearer(admin)
            )
            assert created.status_code == 201, created.text
            made[admin] = created.json()["id"]
        for client, admin in ((CLIENT_KEY, ADMIN_KEY), (OTHER_CLIENT_KEY, OTHER_ADMIN_KEY)):
            listed = await http.get(
                "/v1/sessions", params={"location": marker}, headers=bearer(client)
            )
            assert [s["id"] for s in listed.json()["items"]] == [made[admin]]
            assert listed.json()["total"] == 1
        theirs = await http.get(f"/v1/sessions/{made[ADMIN_KEY]}", headers=bearer(OTHER_CLIENT_KEY))
        assert theirs.status_code == 404


async def test_a_booking_can_be_made_and_read_in_the_other_organisation(
    api_url: str, temporal: Client
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        created = await http.post("/v1/sessions", json=course(), headers=bearer(OTHER_ADMIN_KEY))
        session_id = created.json()["id"]
        booked = await http.post(
            "/v1/bookings",
            json=booking_body(session_id),
            headers={**bearer(OTHER_CLIENT_KEY), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert booked.status_code == 201, booked.text
        booking_id = booked.json()["id"]
        read = await http.get(f"/v1/bookings/{booking_id}", headers=bearer(OTHER_CLIENT_KEY))
        assert read.status_code == 200
        hidden = await http.get(f"/v1/bookings/{booking_id}", headers=bearer(CLIENT_KEY))
        assert hidden.status_code == 404
    described = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).describe()
    assert described.typed_search_attributes.get(sa.ORGANISATION_ID) == str(OTHER_ORGANISATION_ID)


def test_migration_0003_carries_existing_sessions_into_the_default_organisation(
    postgres: Cluster,
) -> None:
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0002")
        session_id = uuid.uuid4()
        sql(
            "INSERT INTO sessions (id, kind, title, location, starts_at, ends_at, capacity,"
            " price_amount, currency, hold_seconds, discount_min_quantity,"
            " discount_basis_points, status) VALUES"
            f" ('{session_id}', 'course', 'Before tenants', 'Leeds', '2031-01-01 09:00Z',"
            " '2031-01-01 17:00Z', 4, 1000, 'GBP', 600, 5, 0, 'scheduled')"
        )
        alembic(url, "upgrade", "head")
        owner = sql(f"SELECT organisation_id FROM sessions WHERE id = '{session_id}'")
        assert owner == str(DEFAULT_ORGANISATION_ID)
        nullable = sql(
            "SELECT is_nullable FROM information_schema.columns"
            " WHERE table_name = 'sessions' AND column_name = 'organisation_id'"
        )
        assert nullable == "NO"
        alembic(url, "downgrade", "0002")  # and back: the migration is reversible
        alembic(url, "upgrade", "head")
