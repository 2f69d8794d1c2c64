"""`booking-ops sessions`: create, list and show straight in PostgreSQL; cancel through the
session's cancellation workflow, followed to its outcome or left to run (--no-wait)."""

import uuid
from datetime import timedelta

from core.settings import Settings
from messages.sessions import session_cancellation_id
from tests.conftest import OTHER_ORGANISATION_ID, SessionFactory
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error

COURSE = [
    "--title",
    "Paediatric First Aid",
    "--starts-at",
    "2031-05-01T09:00Z",
    "--ends-at",
    "2031-05-01T17:00Z",
    "--price-amount",
    "7500",
]


async def test_create_then_list_and_show_a_session(settings: Settings) -> None:
    location = f"Leeds {uuid.uuid4().hex[:6]}"
    created = ok_json(
        await booking_ops(
            settings, "sessions", "create", *COURSE, "--location", location, "--capacity", "6",
            "--discount", "4:15", "--refund-tier", "7:50", "--refund-tier", "14:100", "--json",
        )
    )  # fmt: skip
    assert created["availability"] == {"capacity": 6, "held": 0, "sold": 0, "available": 6}
    assert created["group_discount"] == {"min_quantity": 4, "percent": 15}
    assert created["refund_policy"] == [
        {"days_before": 14, "percent": 100},
        {"days_before": 7, "percent": 50},
    ]
    session_id = created["id"]

    listed = ok_json(
        await booking_ops(settings, "sessions", "list", "--location", location, "--json")
    )
    assert ([s["id"] for s in listed["items"]], listed["total"]) == ([session_id], 1)
    table = ok(await booking_ops(settings, "sessions", "list", "-q", location))
    assert "1 of 1 session(s)" in table and session_id in table and "£75.00" in table

    shown = ok(await booking_ops(settings, "sessions", "show", session_id))
    assert "Paediatric First Aid" in shown and "6: 0 held, 0 sold, 6 free" in shown
    assert "15% off for 4 or more" in shown
    assert (
        ok_json(await booking_ops(settings, "sessions", "show", session_id, "--json"))["bookings"]
        == {}
    )

    theirs = ok_json(
        await booking_ops(
            settings, "sessions", "create", *COURSE, "--location", location, "--capacity", "2",
            "--organisation", str(OTHER_ORGANISATION_ID), "--json",
        )
    )  # fmt: skip
    assert theirs["organisation_id"] == str(OTHER_ORGANISATION_ID)
    scoped = ["--location", location, "--organisation", str(OTHER_ORGANISATION_ID), "--json"]
    only_theirs = ok_json(await booking_ops(settings, "sessions", "list", *scoped))
    assert [s["id"] for s in only_theirs["items"]] == [theirs["id"]]

    seated = ok_json(
        await booking_ops(
            settings, "sessions", "create", *COURSE, "--location", location, "--kind", "seated",
            "--seat-row", "A=3", "--seat-row", "B=2", "--discount", "none", "--json",
        )
    )  # fmt: skip
    assert (seated["availability"]["capacity"], seated["group_discount"]) == (5, None)
    assert seated["time_zone"] == "UTC"  # when not given


async def test_create_in_a_time_zone(settings: Settings) -> None:
    created = ok_json(
        await booking_ops(
            settings, "sessions", "create", *COURSE, "--location", "Tokyo", "--capacity", "2",
            "--time-zone", "Asia/Tokyo", "--vat", "500", "--json",
        )
    )  # fmt: skip
    assert created["time_zone"] == "Asia/Tokyo"
    assert (created["vat_treatment"], created["vat_rate_basis_points"]) == ("rate", 500)
    shown = ok(await booking_ops(settings, "sessions", "show", created["id"]))
    assert "Asia/Tokyo" in shown and "5 % (its own rate)" in shown


async def test_bad_arguments_exit_2_and_unknown_sessions_exit_1(settings: Settings) -> None:
    for args, complaint in [
        (["sessions", "show", "nope"], "not a session id"),
        (["sessions", "cancel", "12345"], "not a session id"),
        (["sessions", "list", "--limit", "0"], "--limit"),
        (["sessions", "list", "--kind", "party"], "--kind"),
        (["sessions", "list", "--starts-after", "soon"], "not an ISO date"),
        (["sessions", "create", "--title", "x"], "Missing option"),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2", "--ends-at",
             "2031-05-01T08:00Z"],
            "ends_at must be after starts_at",
        ),
        (["sessions", "create", *COURSE, "--location", "L"], "needs a capacity"),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2",
             "--refund-tier", "7:50", "--refund-tier", "7:100"],
            "same days_before",
        ),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2",
             "--refund-tier", "a week"],
            "--refund-tier",
        ),
        (["sessions", "create", *COURSE, "--location", "L", "--seat-row", "A10"], "LABEL=SEATS"),
        (["sessions", "create", *COURSE, "--location", "L", "--vat", "lots"], "--vat 'lots'"),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2",
             "--organisation", str(uuid.uuid4())],
            "no organisation",
        ),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2", "--currency",
             "gbp"],
            "currency",
        ),
        (
            ["sessions", "create", *COURSE, "--location", "L", "--capacity", "2", "--time-zone",
             "Mars/Olympus_Mons"],
            "time_zone: unknown IANA time zone 'Mars/Olympus_Mons'",
        ),
    ]:  # fmt: skip
        one_line_error(await booking_ops(settings, *args), 2, complaint)
    missing = str(uuid.uuid4())
    one_line_error(
        await booking_ops(settings, "sessions", "show", missing), 1, f"session {missing} does not"
    )
    one_line_error(await booking_ops(settings, "sessions", "cancel", missing), 1, "does not exist")


async def test_cancel_follows_the_workflow_and_prints_the_outcome(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=6)
    pending = await start_booking(stack.api, session_id, 2)
    confirmed = await paid_booking(stack.api, stack.stripe_client, session_id, 1)

    out = ok(await booking_ops(stack.settings, "sessions", "cancel", session_id))
    assert f"session {session_id} cancelled: 2 of 2 booking(s) done, 0 failed" in out
    assert "CANCELLED" in out and "REFUNDED" in out
    await wait_for_status(stack.api, pending["id"], "CANCELLED")
    await wait_for_status(stack.api, confirmed["id"], "REFUNDED")

    # Again: the first run has ended, so a new one finishes what is left: nothing.
    again = ok_json(await booking_ops(stack.settings, "sessions", "cancel", session_id, "--json"))
    assert again == {
        "session_id": session_id,
        "workflow_id": session_cancellation_id(session_id),
        "finished": True,
        "total": 0,
        "done": 0,
        "bookings": {},
        "failed": [],
    }
    shown = ok_json(await booking_ops(stack.settings, "sessions", "show", session_id, "--json"))
    assert shown["status"] == "cancelled"
    assert shown["bookings"] == {"CANCELLED": 1, "REFUNDED": 1}


async def test_cancel_without_waiting_returns_at_once(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=3)
    pending = await start_booking(stack.api, session_id, 1)
    started = ok_json(
        await booking_ops(stack.settings, "sessions", "cancel", session_id, "--no-wait", "--json")
    )
    assert (started["finished"], started["workflow_id"]) == (
        False,
        session_cancellation_id(session_id),
    )
    handle = stack.temporal.get_workflow_handle(session_cancellation_id(session_id))
    assert (await handle.result())["done"] == 1
    await wait_for_status(stack.api, pending["id"], "CANCELLED")


async def test_a_session_that_has_started_is_not_cancelled(
    settings: Settings, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=2, starts_in=timedelta(0))
    one_line_error(await booking_ops(settings, "sessions", "cancel", session_id), 1, "has started")


async def test_unreachable_database_exits_3(settings: Settings) -> None:
    result = await booking_ops(
        settings,
        "sessions",
        "list",
        BOOKING_DATABASE_URL="postgresql+asyncpg://u:secret@127.0.0.1:9/x",
    )
    one_line_error(result, 3, "cannot reach PostgreSQL")
    assert "secret" not in result.stderr


async def test_waiting_list_shows_each_entry_in_join_order(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=1)
    await start_booking(stack.api, session_id, 1)
    joined = []
    for name in ("ada", "bob"):
        response = await stack.api.post(
            f"/v1/sessions/{session_id}/waiting-list",
            json={"quantity": 1, "customer": {"name": name, "email": f"{name}@example.com"}},
        )
        assert response.status_code == 201, response.text
        joined.append(response.json()["id"])
    shown = ok_json(
        await booking_ops(stack.settings, "sessions", "waiting-list", session_id, "--json")
    )
    assert shown["status"] == "open"
    assert [(e["id"], e["state"]) for e in shown["entries"]] == [
        (joined[0], "waiting"),
        (joined[1], "waiting"),
    ]
    assert "waiting list open: 2" in ok(
        await booking_ops(stack.settings, "sessions", "waiting-list", session_id)
    )
