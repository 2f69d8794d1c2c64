"""`booking-ops bookings`: found through Temporal visibility, shown with a timeline read from the
workflow history, and cancelled, refunded, expired or sent an email again through the booking's
own workflow and activities."""

import uuid
from typing import Any

from core.enums import SessionStatus
from core.settings import Settings
from models.tables import Booking, Session
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.conftest import OTHER_ORGANISATION_ID
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.emails import emails_at_rest, emails_for
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error


async def listed(settings: Settings, *filters: str, expect: int, within: float = 15) -> Any:
    """`bookings list --json` once visibility shows `expect` bookings (it trails by a moment)."""

    async def run() -> Any:
        return ok_json(await booking_ops(settings, "bookings", "list", *filters, "--json"))

    return await eventually(
        run,
        lambda found: len(found["bookings"]) == expect,
        within=within,
        every=0.3,
        what=f"{expect} bookings listed",
    )


async def test_list_finds_bookings_by_status_session_and_email(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=4)
    pending = await start_booking(stack.api, session_id, 1)
    paid = await paid_booking(stack.api, stack.stripe_client, session_id, 1)

    found = await listed(
        stack.settings, "--status", "PENDING_PAYMENT", "--session", session_id, expect=1
    )
    [booking] = found["bookings"]
    assert (booking["id"], booking["status"], booking["session_id"]) == (
        pending["id"],
        "PENDING_PAYMENT",
        session_id,
    )
    assert f'SessionId = "{session_id}"' in found["query"]

    both = await listed(stack.settings, "--session", session_id, expect=2)
    assert {b["id"] for b in both["bookings"]} == {pending["id"], paid["id"]}
    by_email = await listed(
        stack.settings, "--session", session_id, "--email", " ADA@example.com ", expect=2
    )
    assert {b["id"] for b in by_email["bookings"]} == {pending["id"], paid["id"]}
    assert "ada@example.com" not in by_email["query"].lower()
    mine = await listed(
        stack.settings,
        "--session",
        session_id,
        "--organisation",
        str(DEFAULT_ORGANISATION_ID),
        expect=2,
    )
    assert {b["organisation_id"] for b in mine["bookings"]} == {str(DEFAULT_ORGANISATION_ID)}
    theirs = ["--session", session_id, "--organisation", str(OTHER_ORGANISATION_ID), "--json"]
    assert ok_json(await booking_ops(stack.settings, "bookings", "list", *theirs))["bookings"] == []
    by_email = ["--session", session_id, "--email", "eve@example.com", "--json"]
    nobody = ok_json(await booking_ops(stack.settings, "bookings", "list", *by_email))
    assert nobody["bookings"] == []

    table = ok(
        await booking_ops(
            stack.settings, "bookings", "list", "--session", session_id, "--status", "confirmed"
        )
    )
    assert paid["id"] in table and "CONFIRMED" in table and pending["id"] not in table


async def test_show_prints_state_amounts_and_a_timeline(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=4)
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "confirmation"
    ]

    out = ok(await booking_ops(stack.settings, "bookings", "show", booking["id"]))
    assert "CONFIRMED (from the workflow)" in out
    assert "£150.00 (subtotal £150.00, discount £0.00)" in out
    assert "Ada Lovelace <ada@example.com>" in out
    for step in (
        "workflow started",
        "booking requested",
        "hold 2 place(s)",
        "create PaymentIntent",
        "record PENDING_PAYMENT",
        "status PENDING_PAYMENT",
        "timer 'hold expires' set for",
        "payment event: succeeded",
        "sell the places",
        "status CONFIRMED",
        "issue receipt",
        "email confirmation",
        "read PaymentIntent pi_",
        "timer 'reminder' set for",
    ):
        assert step in out, step

    document = ok_json(
        await booking_ops(stack.settings, "bookings", "show", booking["id"], "--json")
    )
    assert document["booking"]["status"] == "CONFIRMED"
    assert document["booking"]["reference"] == booking["reference"]
    assert document["workflow"]["status"] == "RUNNING"
    steps = [step["what"] for step in document["timeline"]]
    confirmed = next(i for i, step in enumerate(steps) if step.startswith("status CONFIRMED"))
    intent_created = next(i for i, step in enumerate(steps) if "create PaymentIntent" in step)
    assert intent_created < confirmed
    assert steps[confirmed] == f"status CONFIRMED, reference {booking['reference']}"


async def test_cancel_refund_and_expire_now_go_through_the_workflow(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=6)
    held = await start_booking(stack.api, session_id, 1)
    other = await start_booking(stack.api, session_id, 1)
    paid = await paid_booking(stack.api, stack.stripe_client, session_id, 2)

    out = ok(await booking_ops(stack.settings, "bookings", "expire-now", held["id"]))
    assert f"booking {held['id']} is CANCELLED (expired by an operator)" in out
    async with stack.db() as s:
        mirror = await s.get(Booking, uuid.UUID(held["id"]))
    assert mirror is not None and mirror.status_reason == "expired by an operator"

    cancelled = ok_json(
        await booking_ops(
            stack.settings,
            "bookings",
            "cancel",
            other["id"],
            "--reason",
            "customer phoned",
            "--json",
        )
    )
    assert (cancelled["status"], cancelled["status_reason"]) == ("CANCELLED", "customer phoned")
    # The same cancel again answers the first one's outcome (one update id for every cancel).
    again = ok_json(await booking_ops(stack.settings, "bookings", "cancel", other["id"], "--json"))
    assert again["status"] == "CANCELLED"

    part = ok_json(
        await booking_ops(
            stack.settings, "bookings", "refund", paid["id"], "--amount", "100", "--json"
        )
    )
    assert (part["status"], part["amount_refunded"]) == ("CONFIRMED", 100)
    again = ok(
        await booking_ops(
            stack.settings, "bookings", "resend", "partly_refunded", paid["id"], "--refund", "1"
        )
    )
    assert f"sent the partly_refunded email of booking {paid['id']}" in again
    one_line_error(
        await booking_ops(stack.settings, "bookings", "refund", paid["id"], "--amount", "15000"),
        2,
        "only 14900 (£149.00) remains paid",
    )
    refunded = ok_json(
        await booking_ops(stack.settings, "bookings", "refund", paid["id"], "--json")
    )
    assert (refunded["status"], len(refunded["refund_ids"])) == ("REFUNDED", 2)
    assert refunded["amount_refunded"] == 15000
    await wait_for_status(stack.api, paid["id"], "REFUNDED")

    one_line_error(
        await booking_ops(stack.settings, "bookings", "refund", other["id"]), 1, "is CANCELLED, not"
    )
    one_line_error(
        await booking_ops(stack.settings, "bookings", "expire-now", paid["id"]),
        1,
        "is REFUNDED, not",
    )


async def test_an_operators_cancel_in_a_cancelled_session_refunds_in_full(stack: Stack) -> None:
    """The customer's rule: the session's cancellation (not yet reached this booking)
    outranks its refund policy, here "never refund"."""
    session_id = await stack.new_session()
    async with stack.db.begin() as s:
        session = await s.get(Session, uuid.UUID(session_id))
        assert session is not None
        session.refund_policy = []
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    async with stack.db.begin() as s:
        session = await s.get(Session, uuid.UUID(session_id))
        assert session is not None
        session.status = SessionStatus.CANCELLED

    cancelled = ok_json(
        await booking_ops(stack.settings, "bookings", "cancel", booking["id"], "--json")
    )

    assert (cancelled["status"], cancelled["amount_refunded"]) == ("REFUNDED", 15_000)
    refunds = (await stack.api.get(f"/v1/bookings/{booking['id']}/refunds")).json()
    assert [(r["amount"], r["source"]) for r in refunds] == [(15_000, "session-cancelled")]


async def test_resend_sends_one_email_kind_again(stack: Stack) -> None:
    booking = await paid_booking(
        stack.api, stack.stripe_client, await stack.new_session(capacity=2), 1
    )
    assert await emails_at_rest(stack.sendgrid, stack.temporal, booking["id"], within=10) == [
        "confirmation"
    ]

    out = ok(await booking_ops(stack.settings, "bookings", "resend", "confirmation", booking["id"]))
    assert f"sent the confirmation email of booking {booking['id']} to ada@example.com" in out
    assert emails_for(stack.sendgrid, booking["id"]) == ["confirmation", "confirmation"]

    one_line_error(
        await booking_ops(stack.settings, "bookings", "resend", "reminder", booking["id"]),
        1,
        "no reminder email was ever sent",
    )


async def test_bad_arguments_exit_2_and_unknown_bookings_exit_1(settings: Settings) -> None:
    some_id = str(uuid.uuid4())
    for args, complaint in [
        (["bookings", "show", "nope"], "not a booking id"),
        (["bookings", "show"], "Missing argument"),
        (["bookings", "list", "--status", "LOST"], "--status"),
        (["bookings", "list", "--session", "nope"], "not a session id"),
        (["bookings", "list", "--limit", "0"], "--limit"),
        (["bookings", "cancel", "nope"], "not a booking id"),
        (["bookings", "refund", some_id, "--amount", "0"], "--amount"),
        (["bookings", "refund", some_id, "--amount", "ten"], "--amount"),
        (["bookings", "resend", "postcard", some_id], "EMAIL_KIND"),
        (["bookings", "expire-now", some_id, "--wait", "-1"], "--wait"),
    ]:
        one_line_error(await booking_ops(settings, *args), 2, complaint)
    for command in (["show"], ["cancel"], ["refund"], ["expire-now"], ["resend", "confirmation"]):
        one_line_error(
            await booking_ops(settings, "bookings", *command, some_id), 1, "does not exist"
        )


async def test_unreachable_temporal_exits_3(settings: Settings) -> None:
    result = await booking_ops(settings, "bookings", "list", BOOKING_TEMPORAL_ADDRESS="127.0.0.1:9")
    one_line_error(result, 3, "cannot reach Temporal")
