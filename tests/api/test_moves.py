"""A confirmed booking moved to another session through the HTTP API (`move`): the target's
places held before the source's are freed, the difference of a cheaper target refunded by the
source's policy, nothing asked of Stripe at the same price, a dearer target's difference paid on
an intent of its own or the move abandoned at the hold's end, and what is refused."""

import asyncio
import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from temporalio.api.enums.v1 import EventType

from activities.repairs import stripe_refunds_workflow_id
from core.enums import DocumentKind, SeatState, SessionStatus
from devstack.pay import pay
from messages.booking import booking_workflow_id
from messages.payments import amount_received
from models.tables import Receipt, Session
from reconcile.findings import unclaimed_payments
from store.organisations import create_organisation
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import (
    course,
    paid_booking,
    session_with,
    start_booking,
    wait_for_status,
)
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.emails import emails_for, emails_with
from tests.helpers.polling import eventually
from tests.helpers.refunds import credit_notes, seats_of, sent, stripe_refunds
from tests.helpers.sellers import session_of
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.helpers.workflow_bookings import handle_of, price_session, stripe_agrees
from tests.histories import HISTORIES, keep_history, keep_workflow_history

IN_A_MONTH = timedelta(days=30)


async def _session(stack: Stack, **values: Any) -> str:
    """A £75 course a month ahead (10 % off 5 places or more), then `values` written over it."""
    session_id = await session_with(stack.api, datetime.now(UTC) + IN_A_MONTH, **_api(values))
    if values:
        async with stack.db.begin() as s:
            await s.execute(
                update(Session).where(Session.id == uuid.UUID(session_id)).values(values)
            )
    return session_id


def _api(values: dict[str, Any]) -> dict[str, Any]:
    """The values `session_with` takes itself (taken out of `values`)."""
    return {key: values.pop(key) for key in ("capacity", "refund_policy") if key in values}


def _move(stack: Stack, booking: dict[str, Any], session_id: str, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return stack.api.post(
        f"/v1/bookings/{booking['id']}/move", json={"session_id": session_id}, headers=headers
    )


async def _calendars(stack: Stack, booking_id: str, move: int) -> list[str]:
    email = await sent(stack.sendgrid, f"{booking_id}:moved:{move}")
    return [
        base64.b64decode(a["content"]).decode()
        for a in email["attachments"]
        if a["type"] == "text/calendar"
    ]


async def test_a_move_at_the_same_price_moves_the_places_and_no_money(
    stack: Stack, run_check: Check
) -> None:
    source, target = await _session(stack), await _session(stack, location="Harrogate")
    booking = await paid_booking(stack.api, stack.stripe_client, source, 2)
    key = str(uuid.uuid4())

    done, again = await _move(stack, booking, target, key), await _move(stack, booking, target, key)

    assert done.status_code == again.status_code == 200, done.text
    moved = done.json()
    assert again.json() == moved
    reused = await _move(stack, booking, source, key)
    assert reused.status_code == 422, reused.text  # the same key with another body
    assert (moved["id"], moved["reference"], moved["status"]) == (
        booking["id"],
        booking["reference"],
        "CONFIRMED",
    )
    assert (moved["session_id"], moved["quantity"], moved["amount_total"]) == (target, 2, 15_000)
    assert (moved["amount_paid"], moved["amount_refunded"]) == (15_000, 0)
    assert set((await seats_of(stack.db, source)).values()) == {SeatState.FREE}
    held = await seats_of(stack.db, target)
    assert sorted(label for label, state in held.items() if state == SeatState.SOLD) == sorted(
        moved["seats"]
    )
    assert await stripe_refunds(stack.stripe_client, booking) == []
    assert await credit_notes(stack.db, booking["id"]) == []
    calendars = await _calendars(stack, booking["id"], 1)
    (gone,) = [ics for ics in calendars if "METHOD:CANCEL" in ics]
    (new,) = [ics for ics in calendars if "METHOD:PUBLISH" in ics]
    assert f"UID:{booking['id']}@booking-engine" in gone and "Leeds" in gone
    assert f"UID:{booking['id']}-1@booking-engine" in new
    assert "Harrogate" in new
    assert emails_for(stack.sendgrid, booking["id"]) == ["confirmation", "moved:1"]
    await stripe_agrees(stack, booking["id"], 15_000)

    # It cancels from the new session as any booking does, its event there cancelled.
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("REFUNDED", 15_000)
    assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}
    world = World([source, target], {"moved": cancelled.json()})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
    await keep_history(stack.temporal, booking["id"], "move-same_price_then_cancelled")


async def test_a_cheaper_move_refunds_the_difference_by_the_source_policy(stack: Stack) -> None:
    """Half back until a week before the start: a month ahead, 2 places moved from £75 to £50
    refund half of the £50 difference."""
    policy = [{"days_before": 7, "percent": 50}]
    source = await _session(stack, refund_policy=policy)
    target = await _session(stack, price_amount=5_000)
    booking = await paid_booking(stack.api, stack.stripe_client, source, 2)

    done = await _move(stack, booking, target)

    assert done.status_code == 200, done.text
    moved = done.json()
    assert (moved["session_id"], moved["amount_total"]) == (target, 10_000)
    assert (moved["amount_paid"], moved["amount_refunded"], moved["amount_remaining"]) == (
        15_000,
        2_500,
        12_500,
    )
    assert await stripe_refunds(stack.stripe_client, booking) == [2_500]
    assert await credit_notes(stack.db, booking["id"]) == [(1, -2_500)]
    email = await sent(stack.sendgrid, f"{booking['id']}:moved:1")
    assert "25.00" in email["content"][0]["value"]
    pdfs = [a["filename"] for a in email["attachments"] if a["type"] == "application/pdf"]
    notes = [p for p in pdfs if not p.startswith("ticket-")]  # tickets: test_moved_tickets
    assert len(notes) == 1 and notes[0].startswith("credit-note-")
    await stripe_agrees(stack, booking["id"], 12_500)
    await keep_history(stack.temporal, booking["id"], "move-cheaper_refunded_by_policy")


async def test_a_group_moved_has_its_discount_computed_again(stack: Stack) -> None:
    """5 places with 10 % off (£337.50) to the same price with 30 % off (£262.50): the £75.00
    difference is refunded in full (the default policy); later places given back are priced
    on what the booking paid for the places it moved to."""
    source, target = await _session(stack), await _session(stack)
    await price_session(stack.db, target, discount=(5, 3_000))
    booking = await paid_booking(stack.api, stack.stripe_client, source, 5)

    done = await _move(stack, booking, target)

    assert done.status_code == 200, done.text
    moved = done.json()
    assert (moved["amount_subtotal"], moved["discount"], moved["amount_total"]) == (
        37_500,
        11_250,
        26_250,
    )
    assert moved["amount_refunded"] == 7_500
    given_back = await stack.api.post(
        f"/v1/bookings/{booking['id']}/cancel-places", json={"count": 1}
    )
    assert given_back.status_code == 200, given_back.text
    kept = given_back.json()
    assert (kept["quantity"], kept["amount_total"], kept["amount_refunded"]) == (4, 21_000, 12_750)
    assert await stripe_refunds(stack.stripe_client, booking) == [5_250, 7_500]
    await stripe_agrees(stack, booking["id"], 21_000)


async def test_moves_that_cannot_be_carried_out_are_refused_and_move_nothing(
    stack: Stack,
) -> None:
    source = await _session(stack, move_cutoff_hours=0)
    booking = await paid_booking(stack.api, stack.stripe_client, source, 2)
    async with stack.db.begin() as s:
        elsewhere = await create_organisation(s, f"Elsewhere {uuid.uuid4().hex[:8]}")
    now = datetime.now(UTC)
    started = await _session(stack, starts_at=now - timedelta(hours=1))
    cancelled = await _session(stack, status=SessionStatus.CANCELLED, cancelled_at=now)
    full = await _session(stack, capacity=3)
    await paid_booking(stack.api, stack.stripe_client, full, 2)
    others = await session_of(stack.db, elsewhere.id)

    for target, status, slug, available in (
        (others, 404, "session-not-found", None),
        (str(uuid.uuid4()), 404, "session-not-found", None),
        (started, 409, "session-not-bookable", 0),
        (cancelled, 409, "session-not-bookable", 0),
        (full, 409, "sold-out", 1),
        (source, 422, "invalid-request", None),
    ):
        refused = await _move(stack, booking, target)
        assert refused.status_code == status, (target, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith(slug), refused.text
        assert refused.json().get("available") == available, refused.text

    # Moves close 60 days before a session a month away: too late already.
    strict = await stack.api.post(
        "/v1/sessions",
        json=course(
            starts_at=(now + IN_A_MONTH).isoformat(),
            ends_at=(now + IN_A_MONTH + timedelta(hours=8)).isoformat(),
            move_cutoff_hours=24 * 60,
        ),
        headers=ADMIN,
    )
    assert strict.json()["move_cutoff_hours"] == 24 * 60, strict.text
    early = await paid_booking(stack.api, stack.stripe_client, strict.json()["id"], 1)
    too_late = await _move(stack, early, await _session(stack))
    assert too_late.status_code == 409, too_late.text
    assert too_late.json()["move_cutoff_hours"] == 24 * 60

    kept = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert (kept["session_id"], kept["seats"], kept["amount_refunded"]) == (
        source,
        booking["seats"],
        0,
    )
    assert SeatState.HELD not in (await seats_of(stack.db, full)).values()
    assert await stripe_refunds(stack.stripe_client, booking) == []


async def test_two_moves_into_the_last_place_never_oversell(stack: Stack, run_check: Check) -> None:
    source, target = await _session(stack), await _session(stack, capacity=3)
    await paid_booking(stack.api, stack.stripe_client, target, 2)
    first = await paid_booking(stack.api, stack.stripe_client, source, 1)
    second = await paid_booking(stack.api, stack.stripe_client, source, 1)

    answers = await asyncio.gather(_move(stack, first, target), _move(stack, second, target))

    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["type"].endswith("sold-out")
    states = list((await seats_of(stack.db, target)).values())
    assert states.count(SeatState.SOLD) == 3 and SeatState.HELD not in states
    # Both moves ran in their workflows: each history holds its update, accepted and answered.
    for booking in (first, second):
        history = await stack.temporal.get_workflow_handle(
            booking_workflow_id(booking["id"])
        ).fetch_history()
        kinds = [event.event_type for event in history.events]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED in kinds
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED in kinds
    now = {
        b["id"]: (await stack.api.get(f"/v1/bookings/{b['id']}")).json() for b in (first, second)
    }
    assert sorted(b["session_id"] for b in now.values()) == sorted([source, target])
    world = World([source, target], {"first": now[first["id"]], "second": now[second["id"]]})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def test_the_reminder_and_the_end_follow_the_booking_to_its_new_session(
    stack: Stack,
) -> None:
    """Both bookings were a month away: one moves to a session a day and seconds away (its
    reminder comes in seconds, keyed by the move), the other to one starting and ending in
    seconds (COMPLETED at its end)."""
    far = await _session(stack)
    reminded = await paid_booking(stack.api, stack.stripe_client, far, 1)
    ending = await paid_booking(stack.api, stack.stripe_client, far, 1)
    tomorrow = await stack.new_session(starts_in=timedelta(days=1, seconds=4))
    soon = await stack.new_session(starts_in=timedelta(seconds=3), duration=timedelta(seconds=2))

    moves = await asyncio.gather(_move(stack, reminded, tomorrow), _move(stack, ending, soon))

    assert [m.status_code for m in moves] == [200, 200], [m.text for m in moves]
    kinds = await emails_with(stack.sendgrid, reminded["id"], "reminder:1")
    assert kinds == ["confirmation", "moved:1", "reminder:1"]
    completed = await wait_for_status(stack.api, ending["id"], "COMPLETED", within=15)
    assert completed["session_id"] == soon
    await keep_history(stack.temporal, reminded["id"], "move-reminder_due_again")
    await keep_history(stack.temporal, ending["id"], "move-completed_at_the_new_end")


async def wait_for(
    stack: Stack, booking_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        return (await stack.api.get(f"/v1/bookings/{booking_id}")).json()  # type: ignore[no-any-return]

    return await eventually(read, done, what="the booking moved")


async def _intent(stack: Stack, intent_id: str) -> tuple[str, int, list[int]]:
    """A PaymentIntent at localstripe: its status, what it received, its refunds' amounts."""
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(intent_id)
    if not amount_received(intent):  # localstripe fails to list the refunds of nothing paid
        return intent.status, 0, []
    refunds = await stack.stripe_client.v1.refunds.list_async({"payment_intent": intent_id})
    return intent.status, amount_received(intent), sorted(r.amount for r in refunds.data)


async def _receipts(stack: Stack, booking_id: str) -> list[tuple[int | None, int]]:
    """(move number, total) of the booking's receipts."""
    async with stack.db() as s:
        rows = await s.execute(
            select(Receipt.move_number, Receipt.total)
            .where(
                Receipt.booking_id == uuid.UUID(booking_id), Receipt.kind == DocumentKind.RECEIPT
            )
            .order_by(Receipt.move_number.nulls_first())
        )
        return [(number, total) for number, total in rows.all()]


async def _nothing_unclaimed(stack: Stack, world: World) -> None:
    """The safety net's search for paid intents no booking claims finds none of these."""
    found = await unclaimed_payments(
        stack.db, stack.temporal, stack.stripe_client, session_ids=world.session_ids
    )
    assert found == []


async def test_a_dearer_move_paid_settles_and_a_cancel_refunds_across_both_intents(
    stack: Stack, run_check: Check
) -> None:
    """2 places from £75 to £90: the £30 difference paid on an intent of its own; the booking
    then holds £180 over two intents, and a cancel a month ahead (half back) refunds £90 from
    the newest first: £30 from the difference, £60 from the booking's own."""
    policy = [{"days_before": 7, "percent": 50}]
    source = await _session(stack, refund_policy=policy)
    target = await _session(stack, price_amount=9_000, refund_policy=policy)
    booking = await paid_booking(stack.api, stack.stripe_client, source, 2)
    own = booking["payment"]["payment_intent_id"]
    key = str(uuid.uuid4())

    asked, again = (
        await _move(stack, booking, target, key),
        await _move(stack, booking, target, key),
    )

    assert asked.status_code == again.status_code == 202, asked.text
    payment = asked.json()["move_payment"]
    assert again.json()["move_payment"] == payment
    assert (payment["amount"], payment["session_id"]) == (3_000, target)
    waiting = asked.json()
    assert (waiting["session_id"], waiting["amount_paid"]) == (source, 15_000)  # not moved yet
    assert SeatState.HELD in (await seats_of(stack.db, target)).values()

    assert await pay(stack.stripe_client, payment["payment_intent_id"]) == "succeeded"
    moved = await wait_for(stack, booking["id"], lambda b: b["session_id"] == target)
    assert (moved["status"], moved["reference"], moved["amount_total"]) == (
        "CONFIRMED",
        booking["reference"],
        18_000,
    )
    assert (moved["amount_paid"], moved["amount_refunded"]) == (18_000, 0)
    assert set((await seats_of(stack.db, source)).values()) == {SeatState.FREE}
    assert await _intent(stack, own) == ("succeeded", 15_000, [])
    assert await _intent(stack, payment["payment_intent_id"]) == ("succeeded", 3_000, [])
    await eventually(
        lambda: _receipts(stack, booking["id"]),
        lambda receipts: receipts == [(None, 15_000), (1, 3_000)],
        what="a receipt for the difference",
    )

    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("CANCELLED", 9_000)
    assert await _intent(stack, payment["payment_intent_id"]) == ("succeeded", 3_000, [3_000])
    assert await _intent(stack, own) == ("succeeded", 15_000, [6_000])

    # The rest refunded in Stripe's dashboard once the workflow has ended: its recorder reads
    # both intents, and the booking is REFUNDED once nothing remains on either.
    await handle_of(stack.temporal, booking["id"]).result()
    await stack.stripe_client.v1.refunds.create_async({"payment_intent": own, "amount": 9_000})
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": own}
    body, headers = signed_event("charge.refunded", charge)
    told = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert told.json()["outcome"] == "recording-refunds", told.text
    refunded = await wait_for_status(stack.api, booking["id"], "REFUNDED")
    assert (refunded["amount_paid"], refunded["amount_refunded"]) == (18_000, 18_000)
    recorder = stripe_refunds_workflow_id(booking["id"])
    await stack.temporal.get_workflow_handle(recorder).result()
    await keep_workflow_history(
        stack.temporal, recorder, HISTORIES / "stripe-refunds" / "moved_dearer_rest_refunded"
    )
    world = World([source, target], {"moved": refunded})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
    await _nothing_unclaimed(stack, world)
    await keep_history(stack.temporal, booking["id"], "move-dearer_paid_then_cancelled")


async def test_a_dearer_move_not_paid_in_time_is_abandoned_and_the_booking_kept(
    stack: Stack, run_check: Check
) -> None:
    source = await _session(stack)
    target = await _session(stack, price_amount=9_000, hold_seconds=2)
    booking = await paid_booking(stack.api, stack.stripe_client, source, 2)

    asked = await _move(stack, booking, target)

    assert asked.status_code == 202, asked.text
    intent = asked.json()["move_payment"]["payment_intent_id"]
    await eventually(
        lambda: _intent(stack, intent),
        lambda found: found[0] == "canceled",
        what="the difference's intent cancelled at the hold's end",
    )
    await eventually(
        lambda: seats_of(stack.db, target),
        lambda seats: set(seats.values()) == {SeatState.FREE},
        what="the target's places given back",
    )
    kept = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert (kept["status"], kept["session_id"], kept["seats"]) == (
        "CONFIRMED",
        source,
        booking["seats"],
    )
    assert (kept["amount_paid"], kept["amount_refunded"], kept["amount_total"]) == (
        15_000,
        0,
        15_000,
    )
    assert set((await seats_of(stack.db, source)).values()) - {SeatState.FREE} == {SeatState.SOLD}
    assert await _receipts(stack, booking["id"]) == [(None, 15_000)]
    assert "moved:1" not in emails_for(stack.sendgrid, booking["id"])
    world = World([source, target], {"kept": kept})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
    await _nothing_unclaimed(stack, world)
    await keep_history(stack.temporal, booking["id"], "move-dearer_abandoned_at_the_hold_end")


async def test_a_free_booking_is_refused_a_move_that_needs_a_payment(stack: Stack) -> None:
    """A booking with nothing paid has no payment for a difference to join: it moves only to
    a session where nothing is to be paid."""
    free = await _session(stack, price_amount=0)
    target = await _session(stack)
    booking = await start_booking(stack.api, free, 1)
    assert booking["status"] == "CONFIRMED", booking

    refused = await _move(stack, booking, target)

    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("not-changeable"), refused.text
    assert refused.json()["difference"] == 7_500
    assert SeatState.HELD not in (await seats_of(stack.db, target)).values()
    kept = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert (kept["session_id"], kept["amount_paid"]) == (free, 0)
