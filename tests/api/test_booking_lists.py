"""Listing bookings (issue 12): each filter, keyset pages that skip and repeat nothing while
bookings are made between them, cursors that were altered refused, one organisation's list
never showing another's bookings, `updated_at` kept by the database on every change, and
migration 0008 reversible."""

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.booking_lists import MAX_LIMIT
from devstack.postgres import Cluster
from tests.api.conftest import ADMIN
from tests.conftest import OTHER_ADMIN_KEY, SessionFactory
from tests.helpers.api_bookings import (
    booking_body,
    course,
    erase_at_rest,
    invalid_fields,
    paid_booking,
    start_booking,
)
from tests.helpers.database import alembic, scratch_database
from tests.helpers.stack import Stack

Db = async_sessionmaker[AsyncSession]


async def book(api: httpx.AsyncClient, session_id: str, name: str, email: str) -> dict[str, Any]:
    customer = {"name": name, "email": email}
    response = await api.post(
        "/v1/bookings",
        json=booking_body(session_id, customer=customer),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
    """The ids of the list's first page (up to 100) for these filters."""
    response = await api.get("/v1/bookings", params={"limit": MAX_LIMIT, **params})
    assert response.status_code == 200, response.text
    return [b["id"] for b in response.json()["items"]]


async def every_page(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = await api.get(
            "/v1/bookings", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_filters_by_status_session_and_customer_email(stack: Stack) -> None:
    session_id, other_session_id = await stack.new_session(), await stack.new_session()
    paid = await paid_booking(stack.api, stack.stripe_client, session_id)
    cancelled = await start_booking(stack.api, session_id)
    assert (await stack.api.post(f"/v1/bookings/{cancelled['id']}/cancel")).status_code == 200
    pending = await book(stack.api, session_id, "Grace Hopper", "Grace.Hopper@Example.com")
    elsewhere = await start_booking(stack.api, other_session_id)

    assert await listed(stack.api, session_id=session_id) == [
        paid["id"],
        cancelled["id"],
        pending["id"],
    ]
    assert await listed(stack.api, session_id=other_session_id) == [elsewhere["id"]]
    assert await listed(stack.api, session_id=session_id, status="CONFIRMED") == [paid["id"]]
    assert await listed(stack.api, session_id=session_id, status=["CONFIRMED", "CANCELLED"]) == [
        paid["id"],
        cancelled["id"],
    ]
    assert await listed(stack.api, customer_email="grace.hopper@example.COM") == [pending["id"]]
    assert await listed(stack.api, customer_email=f"nobody-{uuid.uuid4().hex}@example.com") == []
    # Each item is the booking as GET /v1/bookings/{id} gives it.
    page = await stack.api.get(
        "/v1/bookings", params={"status": "CONFIRMED", "session_id": session_id}
    )
    assert page.json()["items"] == [(await stack.api.get(f"/v1/bookings/{paid['id']}")).json()]


async def test_filters_by_created_and_updated_ranges(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session()
    first, second, third = [await start_booking(api, session_id) for _ in range(3)]
    assert (await api.post(f"/v1/bookings/{first['id']}/cancel")).status_code == 200
    cancelled = (await api.get(f"/v1/bookings/{first['id']}")).json()
    at = {b["id"]: b["created_at"] for b in (first, second, third)}
    mine = {"session_id": session_id}

    assert await listed(api, **mine, created_after=at[second["id"]]) == [second["id"], third["id"]]
    assert await listed(api, **mine, created_before=at[second["id"]]) == [first["id"]]
    assert await listed(
        api, **mine, created_after=at[second["id"]], created_before=at[third["id"]]
    ) == [second["id"]]
    # The cancel changed the first booking last: only it was updated since.
    assert moment(cancelled["updated_at"]) > moment(third["updated_at"])
    assert await listed(api, **mine, updated_after=cancelled["updated_at"]) == [first["id"]]
    assert await listed(api, **mine, updated_before=cancelled["updated_at"]) == [
        second["id"],
        third["id"],
    ]
    # A time with another zone is converted (one without a zone is refused: test_query_params).
    created = moment(at[second["id"]])
    east = created.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    assert await listed(api, **mine, created_after=east) == [second["id"], third["id"]]


async def test_pages_skip_and_repeat_nothing_while_bookings_are_made_between_them(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=30)
    before = [(await start_booking(api, session_id))["id"] for _ in range(5)]
    made_meanwhile: list[str] = []
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"session_id": session_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/bookings", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if len(made_meanwhile) < 4:  # two bookings between each of the first pages
            made_meanwhile += [(await start_booking(api, session_id))["id"] for _ in range(2)]

    assert len(seen) == len(set(seen))
    assert seen == before + made_meanwhile
    everything = await listed(api, session_id=session_id)
    assert seen == everything


async def test_the_whole_list_pages_in_creation_order(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session()
    made = [await start_booking(api, session_id) for _ in range(3)]
    items = await every_page(api, limit=1, created_after=made[0]["created_at"])
    ids = [b["id"] for b in items]
    assert {b["id"] for b in made} <= set(ids) and len(ids) == len(set(ids))
    order = [(moment(b["created_at"]), b["id"]) for b in items]
    assert order == sorted(order)


async def test_limit_bounds(api: httpx.AsyncClient, new_session: SessionFactory) -> None:
    session_id = await new_session()
    for _ in range(2):
        await start_booking(api, session_id)
    one = (await api.get("/v1/bookings", params={"session_id": session_id, "limit": 1})).json()
    assert len(one["items"]) == 1 and one["limit"] == 1 and one["next_cursor"]
    both = (await api.get("/v1/bookings", params={"session_id": session_id})).json()
    assert len(both["items"]) == 2 and both["limit"] == 20 and both["next_cursor"] is None
    assert (await api.get("/v1/bookings", params={"limit": MAX_LIMIT})).status_code == 200
    for limit in (0, MAX_LIMIT + 1, -1, "many"):
        assert invalid_fields(await api.get("/v1/bookings", params={"limit": limit})) == {
            "query.limit"
        }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "LOST"}, "query.status.0"),
        ({"status": ["CONFIRMED", "lost"]}, "query.status.1"),
        ({"session_id": "not-a-uuid"}, "query.session_id"),
        ({"created_after": "yesterday"}, "query.created_after"),
        ({"updated_before": "2026-13-01"}, "query.updated_before"),
        (
            {"created_after": "2026-06-02T00:00Z", "created_before": "2026-06-01T00:00Z"},
            "query.created_before",
        ),
        (
            {"updated_after": "2026-06-01T00:00Z", "updated_before": "2026-06-01T00:00Z"},
            "query.updated_before",
        ),
        ({"customer_email": "not an address"}, "query.customer_email"),
        ({"cursor": "x" * 201}, "query.cursor"),
    ],
)
async def test_a_bad_filter_is_a_problem_naming_it(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert invalid_fields(await api.get("/v1/bookings", params=params)) == {field}


async def test_an_altered_or_foreign_cursor_is_refused(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session()
    for _ in range(2):
        await start_booking(api, session_id)
    first = await api.get("/v1/bookings", params={"session_id": session_id, "limit": 1})
    cursor = first.json()["next_cursor"]
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    for bad in (flipped, cursor[:-2], cursor + "AA", "not a cursor!", "", "YWJj"):
        response = await api.get("/v1/bookings", params={"cursor": bad})
        assert invalid_fields(response) == {"query.cursor"}, bad
    # A cursor another organisation's key was given means nothing to this one.
    mine = await api.get("/v1/bookings", params={"cursor": cursor})
    assert mine.status_code == 200
    assert invalid_fields(await other_api.get("/v1/bookings", params={"cursor": cursor})) == {
        "query.cursor"
    }


async def test_another_organisations_bookings_never_appear(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    ours = await start_booking(api, await new_session())
    theirs_session = await other_api.post(
        "/v1/sessions", json=course(), headers={"Authorization": f"Bearer {OTHER_ADMIN_KEY}"}
    )
    assert theirs_session.status_code == 201, theirs_session.text
    theirs = await start_booking(other_api, theirs_session.json()["id"])
    since = min(moment(ours["created_at"]), moment(theirs["created_at"])).isoformat()

    our_list = [b["id"] for b in await every_page(api, created_after=since)]
    their_list = [b["id"] for b in await every_page(other_api, created_after=since)]
    assert ours["id"] in our_list and theirs["id"] not in our_list
    as_admin = await api.get("/v1/bookings", params={"created_after": since}, headers=ADMIN)
    assert [b["id"] for b in as_admin.json()["items"]] == our_list[:20]
    assert theirs["id"] in their_list and ours["id"] not in their_list
    assert await listed(api, session_id=theirs_session.json()["id"]) == []
    assert await listed(api, customer_email="ada@example.com", created_after=since) == [ours["id"]]


async def test_updated_at_moves_on_every_change_and_only_then(stack: Stack) -> None:
    session_id = await stack.new_session()
    booking = await book(
        stack.api, session_id, "Ada Lovelace", f"erase-{uuid.uuid4().hex}@example.com"
    )
    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).status_code == 200
    cancelled = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert moment(cancelled["updated_at"]) > moment(booking["updated_at"])

    async with stack.db.begin() as s:  # a write that changes nothing leaves it
        await s.execute(
            text("UPDATE bookings SET status = status WHERE id = :id"), {"id": booking["id"]}
        )
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()["updated_at"] == cancelled[
        "updated_at"
    ]

    # Erasure never set it by hand: the database does, so the list's updated range sees it.
    erased = await erase_at_rest(stack.api, booking["customer"]["email"], booking["id"])
    assert erased["erased"] == [booking["id"]]
    after = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert moment(after["updated_at"]) > moment(cancelled["updated_at"])
    assert await listed(stack.api, session_id=session_id, updated_after=after["updated_at"]) == [
        booking["id"]
    ]


def test_migration_0008_is_reversible(postgres: Cluster) -> None:
    trigger = "SELECT count(*) FROM pg_trigger WHERE tgname = 'bookings_touch_updated_at'"
    with scratch_database(postgres) as (url, sql):

        def indexes() -> set[str]:
            return set(sql("SELECT indexname FROM pg_indexes WHERE tablename = 'bookings'").split())

        alembic(url, "upgrade", "head")
        assert sql(trigger) == "1"
        assert {"ix_bookings_created", "ix_bookings_session_created"} <= indexes()
        alembic(url, "downgrade", "0008-1")
        assert sql(trigger) == "0"
        assert "ix_bookings_session" in indexes() and "ix_bookings_created" not in indexes()
        alembic(url, "upgrade", "head")
        assert sql(trigger) == "1"
