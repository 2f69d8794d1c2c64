"""Some places of a confirmed booking moved to another session (`move` with `seats` or
`count`): they become a new booking there, paid with their share of what the first booking
paid (its claims on the first booking's PaymentIntent), a cheaper target's difference refunded
by the first booking; each booking then refunds only what it claims, and Stripe never refunds
more than it received."""

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from sqlalchemy import select, update
from temporalio.api.enums.v1 import EventType

from core.enums import SeatState
from devstack.pay import pay
from models.tables import Booking, BookingPayment, Receipt, Session
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.emails import emails_for
from tests.helpers.polling import eventually
from tests.helpers.refunds import credit_notes, seats_of, sent
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.helpers.workflow_bookings import handle_of
from tests.histories import keep_history
from tests.reconcile.splits import refund_naming

Json = dict[str, Any]


async def _session(stack: Stack, **values: Any) -> str:
    """A £75 course a month ahead (10 % off 5 places or more), then `values` written over it."""
    capacity = {"capacity": values.pop("capacity")} if "capacity" in values else {}
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30), **capacity)
    if values:
        async with stack.db.begin() as s:
            await s.execute(
                update(Session).where(Session.id == uuid.UUID(session_id)).values(values)
            )
    return session_id


async def _move(
    stack: Stack, booking: Json, session_id: str, key: str | None = None, **places: Any
) -> Any:
    return await stack.api.post(
        f"/v1/bookings/{booking['id']}/move",
        json={"session_id": session_id, **places},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def _refunds_at_stripe(stripe_client: stripe.StripeClient, intent: str) -> list[Json]:
    page = await stripe_client.v1.refunds.list_async({"payment_intent": intent})
    return [
        {"amount": r.amount, "booking_id": (r.to_dict().get("metadata") or {}).get("booking_id")}
        for r in page.data
    ]


async def _claims(stack: Stack, intent: str) -> dict[str, tuple[int, str | None]]:
    """booking id -> (amount claimed of `intent`, the booking it was handed over from)."""
    async with stack.db() as s:
        rows = await s.execute(
            select(
                BookingPayment.booking_id, BookingPayment.amount, BookingPayment.transferred_from
            ).where(BookingPayment.payment_intent_id == intent)
        )
        return {str(b): (amount, str(t) if t else None) for b, amount, t in rows.all()}


async def test_a_cheaper_partial_move_splits_the_group_and_its_money(
    stack: Stack, run_check: Check
) -> None:
    """5 places at £75 with 10 % off (£337.50); the last 2 move to a £50 course: they cost
    £135.00 of what was paid (the places kept keep their share, `core.pricing.kept`), £100.00
    there, so £35.00 is refunded by the first booking and £100.00 handed over."""
    source, target = await _session(stack), await _session(stack, price_amount=5_000)
    first = await paid_booking(stack.api, stack.stripe_client, source, 5)
    intent = first["payment"]["payment_intent_id"]
    before = first["amount_remaining"]

    done = await _move(stack, first, target, count=2)

    assert done.status_code == 200, done.text
    kept = done.json()
    assert (kept["id"], kept["session_id"], kept["seats"]) == (
        first["id"],
        source,
        first["seats"][:3],
    )
    assert (kept["amount_subtotal"], kept["discount"], kept["amount_total"]) == (
        22_500,
        2_250,
        20_250,
    )
    assert (kept["amount_paid"], kept["amount_refunded"], kept["amount_remaining"]) == (
        23_750,
        3_500,
        20_250,
    )
    split_id = kept["moved_to"]
    assert kept["split_into"] == [split_id]
    split = (await stack.api.get(f"/v1/bookings/{split_id}")).json()
    assert (split["status"], split["session_id"], split["split_from"]) == (
        "CONFIRMED",
        target,
        first["id"],
    )
    assert split["reference"] and split["reference"] != first["reference"]
    assert (split["quantity"], split["amount_total"], split["amount_paid"]) == (2, 10_000, 10_000)
    assert split["payment"]["payment_intent_id"] is None
    assert split["customer"] == first["customer"]
    # The invariant of a split: nothing appears or vanishes.
    refunded = kept["amount_refunded"] - first["amount_refunded"]
    assert kept["amount_remaining"] + split["amount_remaining"] + refunded == before

    source_seats, target_seats = await seats_of(stack.db, source), await seats_of(stack.db, target)
    assert sorted(k for k, v in source_seats.items() if v == SeatState.SOLD) == kept["seats"]
    assert sorted(k for k, v in target_seats.items() if v == SeatState.SOLD) == split["seats"]
    assert await _claims(stack, intent) == {
        first["id"]: (23_750, None),
        split_id: (10_000, first["id"]),
    }
    assert await _refunds_at_stripe(stack.stripe_client, intent) == [
        {"amount": 3_500, "booking_id": first["id"]}
    ]
    assert await credit_notes(stack.db, first["id"]) == [(1, -3_500)]
    await _reconciled(stack, run_check, [source, target], first, split)

    # The new booking's email: its own event and its own tickets.
    email = await sent(stack.sendgrid, f"{split_id}:moved")
    calendars = [
        base64.b64decode(a["content"]).decode()
        for a in email["attachments"]
        if a["type"] == "text/calendar"
    ]
    assert len(calendars) == 1 and "METHOD:PUBLISH" in calendars[0]
    assert f"UID:{split_id}@booking-engine" in calendars[0]
    tickets = [a for a in email["attachments"] if a["filename"].startswith("ticket-")]
    assert len(tickets) == 2
    assert emails_for(stack.sendgrid, split_id) == ["moved"]
    text = email["content"][0]["value"]
    assert f"Some places of your booking {first['reference']} have moved" in text
    assert f"they are now booking {split['reference']}" in text

    # The new booking cancels (refunded in full a month ahead) from the first one's intent,
    # as its own refund; the first booking, told of it, does not count it.
    cancelled = await stack.api.post(f"/v1/bookings/{split_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == (
        "REFUNDED",
        10_000,
    )
    assert {"amount": 10_000, "booking_id": split_id} in await _refunds_at_stripe(
        stack.stripe_client, intent
    )
    assert await credit_notes(stack.db, split_id) == [(1, -10_000)]
    signals = await _signalled(stack, first["id"])
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent}
    body, headers = signed_event("charge.refunded", charge)
    told = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert told.status_code == 200, told.text
    await _refunds_read_after_a_signal(stack, first["id"], signals)
    unchanged = (await stack.api.get(f"/v1/bookings/{first['id']}")).json()
    assert (unchanged["amount_refunded"], unchanged["status"]) == (3_500, "CONFIRMED")

    # The first booking cancels: it refunds what it still claims, and no more.
    last = await stack.api.post(f"/v1/bookings/{first['id']}/cancel")
    assert (last.json()["status"], last.json()["amount_refunded"]) == ("REFUNDED", 23_750)
    at_stripe = await _refunds_at_stripe(stack.stripe_client, intent)
    assert sorted(r["amount"] for r in at_stripe) == [3_500, 10_000, 20_250]
    assert sum(r["amount"] for r in at_stripe) == first["amount_paid"]
    assert set((await seats_of(stack.db, source)).values()) == {SeatState.FREE}
    assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}
    await _reconciled(stack, run_check, [source, target], last.json(), cancelled.json())
    for booking_id, name in (
        (first["id"], "partial_move-cheaper_then_both_cancelled"),
        (split_id, "partial_move-split_off_then_cancelled"),
    ):
        await handle_of(stack.temporal, booking_id).result()
        await keep_history(stack.temporal, booking_id, name)


async def _reconciled(
    stack: Stack, run_check: Check, sessions: list[str], first: Json, split: Json
) -> None:
    """The checker finds nothing wrong in these sessions once the two bookings are at rest:
    claims adding up to what Stripe received, each booking's refunds its own, places owned."""
    world = World(sessions, {"first": first, "split": split})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def _history(stack: Stack, booking_id: str) -> list[EventType.ValueType]:
    handle = handle_of(stack.temporal, booking_id)
    return [event.event_type async for event in handle.fetch_history_events()]


async def _signalled(stack: Stack, booking_id: str) -> int:
    signal = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return (await _history(stack, booking_id)).count(signal)


async def _refunds_read_after_a_signal(stack: Stack, booking_id: str, signals: int) -> None:
    """Once the booking's workflow has read Stripe's refunds after its signal number
    `signals` + 1."""
    signal = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED

    async def read() -> bool:
        types = await _history(stack, booking_id)
        if types.count(signal) <= signals:
            return False
        last = len(types) - 1 - types[::-1].index(signal)
        return EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in types[last:]

    await eventually(read, bool, what="the refunds read after the signal")


async def test_a_partial_move_after_an_admin_refund_hands_over_its_part_of_what_remains(
    stack: Stack, run_check: Check
) -> None:
    """2 places at £75, £30.00 refunded by an admin: one place moved by its seat at the same
    price hands over its whole £75.00 share (the admin's refund stays the first booking's:
    £45.00 remains there); each booking then refunds only its own part of the intent. After a
    £90.00 refund the share is more than remains: refused, nothing changed."""
    source, target = await _session(stack), await _session(stack)
    first = await paid_booking(stack.api, stack.stripe_client, source, 2)
    intent = first["payment"]["payment_intent_id"]
    refunded = await stack.api.post(
        f"/v1/bookings/{first['id']}/refunds", json={"amount": 3_000}, headers=ADMIN
    )
    assert refunded.status_code == 200, refunded.text
    seat = first["seats"][0]
    other = await paid_booking(stack.api, stack.stripe_client, source, 2)
    await stack.api.post(
        f"/v1/bookings/{other['id']}/refunds", json={"amount": 9_000}, headers=ADMIN
    )
    refused = await _move(stack, other, target, count=1)
    assert refused.status_code == 409, refused.text
    assert "move the whole booking" in refused.json()["detail"]
    assert refused.json()["remaining"] == 6_000
    assert await _split_of(stack, other["id"]) is None
    assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}

    done = await _move(stack, first, target, seats=[seat])

    assert done.status_code == 200, done.text
    kept = done.json()
    assert (kept["seats"], kept["amount_total"]) == ([first["seats"][1]], 7_500)
    assert (kept["amount_paid"], kept["amount_refunded"], kept["amount_remaining"]) == (
        7_500,
        3_000,
        4_500,
    )
    split = (await stack.api.get(f"/v1/bookings/{kept['moved_to']}")).json()
    assert (split["amount_total"], split["amount_paid"], split["amount_remaining"]) == (
        7_500,
        7_500,
        7_500,
    )
    assert await _refunds_at_stripe(stack.stripe_client, intent) == [
        {"amount": 3_000, "booking_id": first["id"]}
    ]
    assert await _claims(stack, intent) == {
        first["id"]: (7_500, None),
        split["id"]: (7_500, first["id"]),
    }
    await _reconciled(stack, run_check, [source, target], kept, split)
    for booking, back in ((split, 7_500), (kept, 4_500)):
        cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "REFUNDED", cancelled.text
        assert cancelled.json()["amount_remaining"] == 0
        assert {"amount": back, "booking_id": booking["id"]} in await _refunds_at_stripe(
            stack.stripe_client, intent
        )
    at_stripe = await _refunds_at_stripe(stack.stripe_client, intent)
    assert sum(r["amount"] for r in at_stripe) == 15_000


async def test_partial_moves_queued_together_each_split_off_their_places(
    stack: Stack, run_check: Check
) -> None:
    source, target = await _session(stack), await _session(stack)
    first = await paid_booking(stack.api, stack.stripe_client, source, 4)

    keys = [str(uuid.uuid4()) for _ in range(2)]
    answers = await asyncio.gather(*(_move(stack, first, target, key, count=1) for key in keys))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    moved_to = [a.json()["moved_to"] for a in answers]
    assert len(set(moved_to)) == 2, moved_to
    # Each key asked again names its own new booking, not the last one split off.
    again = [await _move(stack, first, target, key, count=1) for key in keys]
    assert [a.json()["moved_to"] for a in again] == moved_to
    kept = (await stack.api.get(f"/v1/bookings/{first['id']}")).json()
    assert (kept["quantity"], kept["amount_total"], kept["amount_paid"]) == (2, 15_000, 15_000)
    async with stack.db() as s:
        of_first = Booking.split_from == uuid.UUID(first["id"])
        splits = list(await s.scalars(select(Booking).where(of_first)))
    assert sorted((b.quantity, b.amount_paid) for b in splits) == [(1, 7_500), (1, 7_500)]
    sold = [k for k, v in (await seats_of(stack.db, target)).items() if v == SeatState.SOLD]
    assert len(sold) == 2
    world = World([source, target], {"first": kept} | {str(b.id): {"id": b.id} for b in splits})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations


async def test_what_a_partial_move_refuses_or_takes_as_a_whole_move(stack: Stack) -> None:
    source, target = await _session(stack), await _session(stack)
    full = await _session(stack, capacity=3)
    await paid_booking(stack.api, stack.stripe_client, full, 3)
    first = await paid_booking(stack.api, stack.stripe_client, source, 3)

    cases: list[tuple[str, Json, int, str]] = [
        (target, {"seats": ["Z99"]}, 422, "invalid-request"),
        (target, {"seats": first["seats"][:1], "count": 1}, 422, "invalid-request"),
        (full, {"count": 1}, 409, "sold-out"),
    ]
    for session_id, places, status, slug in cases:
        refused = await _move(stack, first, session_id, **places)
        assert refused.status_code == status, (places, refused.text)
        assert refused.json()["type"].endswith(slug), refused.text
    unchanged = (await stack.api.get(f"/v1/bookings/{first['id']}")).json()
    assert (unchanged["seats"], unchanged["amount_refunded"]) == (first["seats"], 0)

    # A count of every place or more is a move of the whole booking: no new booking.
    whole = await _move(stack, first, target, count=5)
    assert whole.status_code == 200, whole.text
    assert (whole.json()["session_id"], whole.json()["moved_to"]) == (target, None)
    assert whole.json()["quantity"] == 3


async def test_a_cancel_after_a_partial_move_refunds_what_the_first_booking_kept(
    stack: Stack,
) -> None:
    """A partial move and the booking's cancel sent together: the move accepted first is
    carried out first (the cancel then refunds only what the first booking still claims), or
    the cancel came first and the move is refused; Stripe refunds what was received, no more."""
    source, target = await _session(stack), await _session(stack)
    first = await paid_booking(stack.api, stack.stripe_client, source, 3)
    intent = first["payment"]["payment_intent_id"]

    moved, cancelled = await asyncio.gather(
        _move(stack, first, target, count=1),
        stack.api.post(f"/v1/bookings/{first['id']}/cancel"),
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "REFUNDED"
    at_stripe = await _refunds_at_stripe(stack.stripe_client, intent)
    if moved.status_code == 200:
        split = (await stack.api.get(f"/v1/bookings/{moved.json()['moved_to']}")).json()
        assert (split["status"], split["amount_remaining"]) == ("CONFIRMED", 7_500)
        assert at_stripe == [{"amount": 15_000, "booking_id": first["id"]}]
        assert cancelled.json()["amount_paid"] == 15_000
    else:
        assert moved.status_code == 409, moved.text
        assert at_stripe == [{"amount": 22_500, "booking_id": first["id"]}]
        assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}


async def _split_of(stack: Stack, booking_id: str) -> Json | None:
    async with stack.db() as s:
        found = await s.scalar(
            select(Booking.id).where(Booking.split_from == uuid.UUID(booking_id))
        )
    if found is None:
        return None
    answer: Json = (await stack.api.get(f"/v1/bookings/{found}")).json()
    return answer


async def test_a_dearer_partial_move_is_paid_as_a_difference_the_new_booking_claims(
    stack: Stack, run_check: Check
) -> None:
    """2 places at £75; one moves to a £90 course: £15.00 asked on an intent of its own; once
    paid, the new booking claims £75.00 of the first intent and all of the difference's, with
    a receipt for the difference."""
    source, target = await _session(stack), await _session(stack, price_amount=9_000)
    first = await paid_booking(stack.api, stack.stripe_client, source, 2)
    intent = first["payment"]["payment_intent_id"]

    asked = await _move(stack, first, target, count=1)

    assert asked.status_code == 202, asked.text
    payment = asked.json()["move_payment"]
    assert (payment["amount"], asked.json()["quantity"]) == (1_500, 2)
    assert await pay(stack.stripe_client, payment["payment_intent_id"]) == "succeeded"
    split = await eventually(lambda: _split_of(stack, first["id"]), what="the split")
    assert split is not None
    assert (split["amount_total"], split["amount_paid"], split["split_from"]) == (
        9_000,
        9_000,
        first["id"],
    )
    kept = (await stack.api.get(f"/v1/bookings/{first['id']}")).json()
    assert (kept["quantity"], kept["amount_total"], kept["amount_paid"]) == (1, 7_500, 7_500)
    assert kept["split_into"] == [split["id"]]  # the 202 named no new booking: GET does
    assert await _claims(stack, intent) == {
        first["id"]: (7_500, None),
        split["id"]: (7_500, first["id"]),
    }
    assert await _claims(stack, payment["payment_intent_id"]) == {split["id"]: (1_500, first["id"])}

    async def receipts() -> list[tuple[int | None, int]]:
        async with stack.db() as s:
            rows = await s.execute(
                select(Receipt.move_number, Receipt.total).where(
                    Receipt.booking_id == uuid.UUID(split["id"])
                )
            )
            return [(number, total) for number, total in rows.all()]

    await eventually(receipts, lambda found: found == [(0, 1_500)], what="its receipt")
    await _reconciled(stack, run_check, [source, target], kept, split)

    cancelled = await stack.api.post(f"/v1/bookings/{split['id']}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == (
        "REFUNDED",
        9_000,
    )
    assert await _refunds_at_stripe(stack.stripe_client, payment["payment_intent_id"]) == [
        {"amount": 1_500, "booking_id": split["id"]}
    ]
    assert await _refunds_at_stripe(stack.stripe_client, intent) == [
        {"amount": 7_500, "booking_id": split["id"]}
    ]
    last = await stack.api.post(f"/v1/bookings/{first['id']}/cancel")
    assert (last.json()["status"], last.json()["amount_refunded"]) == ("REFUNDED", 7_500)
    for booking_id, name in (
        (first["id"], "partial_move-dearer_paid_then_both_cancelled"),
        (split["id"], "partial_move-split_off_with_its_difference"),
    ):
        await handle_of(stack.temporal, booking_id).result()
        await keep_history(stack.temporal, booking_id, name)
    assert sum(r["amount"] for r in await _refunds_at_stripe(stack.stripe_client, intent)) == (
        15_000
    )
    await _reconciled(stack, run_check, [source, target], last.json(), cancelled.json())


async def test_a_dearer_partial_move_not_paid_in_time_changes_nothing(stack: Stack) -> None:
    source = await _session(stack)
    target = await _session(stack, price_amount=9_000, hold_seconds=2)
    first = await paid_booking(stack.api, stack.stripe_client, source, 2)

    asked = await _move(stack, first, target, count=1)

    assert asked.status_code == 202, asked.text
    await eventually(
        lambda: seats_of(stack.db, target),
        lambda seats: set(seats.values()) == {SeatState.FREE},
        what="the target's places given back",
    )

    async def answered() -> Json:
        view = (await stack.api.get(f"/v1/bookings/{first['id']}")).json()
        return view if view["status"] == "CONFIRMED" else {}

    kept = await answered()
    assert (kept["quantity"], kept["amount_paid"], kept["amount_refunded"]) == (2, 15_000, 0)
    assert await _split_of(stack, first["id"]) is None
    sold = [k for k, v in (await seats_of(stack.db, source)).items() if v == SeatState.SOLD]
    assert sorted(sold) == sorted(first["seats"])


async def test_a_cancel_while_a_dearer_partial_move_waits_gives_the_move_up(
    stack: Stack,
) -> None:
    source, target = await _session(stack), await _session(stack, price_amount=9_000)
    first = await paid_booking(stack.api, stack.stripe_client, source, 2)

    asked = await _move(stack, first, target, count=1)
    assert asked.status_code == 202, asked.text
    cancelled = await stack.api.post(f"/v1/bookings/{first['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == (
        "REFUNDED",
        15_000,
    )
    difference = asked.json()["move_payment"]["payment_intent_id"]
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(difference)
    assert intent.status == "canceled"
    assert set((await seats_of(stack.db, target)).values()) == {SeatState.FREE}
    assert await _split_of(stack, first["id"]) is None


async def test_a_refund_naming_the_split_off_booking_reaches_it_through_the_intents_webhook(
    stack: Stack,
) -> None:
    """Refunds made at Stripe on the first booking's intent but naming the booking split off
    (as its own workflow asks for them, here made behind its back): Stripe's `charge.refunded`
    names the intent, whose opener is the first booking; the new booking is told too and
    notes the refund (running), or its refund recorder does (its workflow ended)."""
    source, target = await _session(stack), await _session(stack)
    first = await paid_booking(stack.api, stack.stripe_client, source, 3)
    intent = first["payment"]["payment_intent_id"]
    done = await _move(stack, first, target, count=1)
    assert done.status_code == 200, done.text
    split_id = done.json()["moved_to"]
    await sent(stack.sendgrid, f"{split_id}:moved")

    async def charge_refunded() -> None:
        charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent}
        body, headers = signed_event("charge.refunded", charge)
        told = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert told.status_code == 200, told.text

    async def refunded(booking_id: str) -> int:
        view = (await stack.api.get(f"/v1/bookings/{booking_id}")).json()
        return int(view["amount_refunded"])

    await refund_naming(stack.stripe_client, intent, 1_000, split_id)
    await charge_refunded()
    assert await eventually(lambda: refunded(split_id), lambda n: n == 1_000) == 1_000

    await handle_of(stack.temporal, split_id).terminate("its workflow ended")
    await refund_naming(stack.stripe_client, intent, 2_000, split_id)
    await charge_refunded()
    assert await eventually(lambda: refunded(split_id), lambda n: n == 3_000) == 3_000
    assert await refunded(first["id"]) == 0
    assert await credit_notes(stack.db, first["id"]) == []
