"""Refund policies, partial refunds and cancelled places, through the HTTP API with the real
worker, Temporal, PostgreSQL, localstripe and the fake SendGrid."""

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from core.enums import SeatState
from devstack.postgres import Cluster
from models.tables import BookingRefund
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import paid_booking, session_with, wait_for_status
from tests.helpers.database import alembic, scratch_database
from tests.helpers.emails import emails_for
from tests.helpers.polling import eventually
from tests.helpers.refunds import credit_notes, seats_of, sent, stripe_refunds
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.helpers.workflow_bookings import (
    assert_books_match_stripe,
    session_row_cancelled,
    stripe_agrees,
    stripe_echoes_its_refunds,
)
from tests.histories import keep_history


async def test_a_session_refund_policy_is_validated_and_shown(api: httpx.AsyncClient) -> None:
    starts = datetime.now(UTC) + timedelta(days=30)
    default = await api.get(f"/v1/sessions/{await session_with(api, starts)}")
    assert default.json()["refund_policy"] == [{"days_before": 0, "percent": 100}]

    tiers = [{"days_before": 7, "percent": 50}, {"days_before": 14, "percent": 100}]
    shown = await api.get(f"/v1/sessions/{await session_with(api, starts, tiers)}")
    assert shown.json()["refund_policy"] == sorted(tiers, key=lambda t: -t["days_before"])

    for bad in (
        [{"days_before": 7, "percent": 50}, {"days_before": 7, "percent": 100}],
        [{"days_before": 7, "percent": 101}],
        [{"days_before": -1, "percent": 50}],
    ):
        body = {
            "kind": "course",
            "title": "T",
            "location": "L",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "capacity": 3,
            "price_amount": 100,
            "currency": "GBP",
            "refund_policy": bad,
        }
        refused = await api.post("/v1/sessions", json=body, headers=ADMIN)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "refund_policy" in refused.text


async def test_cancellations_refund_by_the_policy_on_each_side_of_a_tier_boundary(
    stack: Stack,
) -> None:
    """In full until 14 days before the start, half until 7 days before: the session starts
    14 days and a few seconds from now, so the 14-day boundary passes during the test."""
    boundary = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
    policy = [{"days_before": 14, "percent": 100}, {"days_before": 7, "percent": 50}]
    session_id = await session_with(stack.api, boundary + timedelta(days=14), policy)
    before, after = await asyncio.gather(
        paid_booking(stack.api, stack.stripe_client, session_id, 2),
        paid_booking(stack.api, stack.stripe_client, session_id, 2),
    )

    full = await stack.api.post(
        f"/v1/bookings/{before['id']}/cancel", json={"reason": "plans changed"}
    )
    assert datetime.now(UTC) < boundary, "the machine was too slow to cancel before the boundary"
    assert full.status_code == 200, full.text
    assert (full.json()["status"], full.json()["amount_refunded"]) == ("REFUNDED", 15_000)

    await asyncio.sleep((boundary - datetime.now(UTC)).total_seconds() + 0.5)
    half = await stack.api.post(
        f"/v1/bookings/{after['id']}/cancel", json={"reason": "plans changed"}
    )
    assert half.status_code == 200, half.text
    assert (half.json()["status"], half.json()["amount_refunded"]) == ("CANCELLED", 7_500)
    again = await stack.api.post(f"/v1/bookings/{after['id']}/cancel")
    assert again.json() == half.json()  # a retried cancel answers the first one's outcome

    assert await stripe_refunds(stack.stripe_client, before) == [15_000]
    assert await stripe_refunds(stack.stripe_client, after) == [7_500]
    assert await credit_notes(stack.db, before["id"]) == [(1, -15_000)]
    assert await credit_notes(stack.db, after["id"]) == [(1, -7_500)]
    assert set((await seats_of(stack.db, session_id)).values()) == {SeatState.FREE}
    cancelled_email = await sent(stack.sendgrid, f"{after['id']}:cancelled")
    assert emails_for(stack.sendgrid, after["id"]) == ["confirmation", "cancelled"]
    assert "£75.00" in str(cancelled_email["content"])
    # The credit note of the half refund, and the calendar file that drops the event.
    attachments = sorted(a["type"] for a in cancelled_email["attachments"])
    assert attachments == ["application/pdf", "text/calendar"]
    for booking in (before, after):
        await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, booking["id"])
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, after["id"]) == 7_500
    shown = (await stack.api.get(f"/v1/bookings/{after['id']}")).json()
    assert (shown["amount_paid"], shown["amount_refunded"], shown["amount_remaining"]) == (
        15_000,
        7_500,
        7_500,
    )
    await keep_history(stack.temporal, after["id"], "partial-refunds-cancelled_for_half_by_policy")


async def test_no_refund_once_every_tier_has_passed(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=3), [])
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 1)

    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")

    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("CANCELLED", 0)
    assert await stripe_refunds(stack.stripe_client, booking) == []
    assert await credit_notes(stack.db, booking["id"]) == []
    assert set((await seats_of(stack.db, session_id)).values()) == {SeatState.FREE}
    email = await sent(stack.sendgrid, f"{booking['id']}:cancelled")
    assert "no refund is due" in str(email["content"])


async def test_an_admin_refunds_part_then_the_rest(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    booking = await paid_booking(
        stack.api, stack.stripe_client, session_id, 5
    )  # £337.50 after the discount
    refunds = f"/v1/bookings/{booking['id']}/refunds"
    first = {"Idempotency-Key": str(uuid.uuid4()), **ADMIN}

    part = await stack.api.post(
        refunds, json={"amount": 10_000, "reason": "goodwill"}, headers=first
    )
    again = await stack.api.post(
        refunds, json={"amount": 10_000, "reason": "goodwill"}, headers=first
    )

    assert part.status_code == again.status_code == 200, part.text
    assert part.json() == again.json()
    assert (part.json()["status"], part.json()["amount_refunded"]) == ("CONFIRMED", 10_000)
    assert await stripe_refunds(stack.stripe_client, booking) == [10_000]
    assert set((await seats_of(stack.db, session_id)).values()) == {SeatState.FREE, SeatState.SOLD}
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, booking["id"])
    assert part.json()["amount_remaining"] == 23_750

    by_a_client = await stack.api.post(refunds, json={"amount": 100})
    assert by_a_client.status_code == 403
    too_much = await stack.api.post(refunds, json={"amount": 23_751}, headers=ADMIN)
    assert too_much.status_code == 422
    assert too_much.headers["content-type"].startswith("application/problem+json")
    assert too_much.json()["remaining"] == 23_750

    rest = await stack.api.post(
        refunds, json={"amount": 23_750, "reason": "cancelled course"}, headers=ADMIN
    )
    assert rest.status_code == 200, rest.text
    assert (rest.json()["status"], rest.json()["amount_refunded"]) == ("REFUNDED", 33_750)
    assert await stripe_refunds(stack.stripe_client, booking) == [10_000, 23_750]
    assert await credit_notes(stack.db, booking["id"]) == [(1, -10_000), (2, -23_750)]
    assert SeatState.SOLD not in (await seats_of(stack.db, session_id)).values()
    listed = (await stack.api.get(f"{refunds}")).json()
    assert [(r["sequence"], r["amount"], r["reason"], r["source"]) for r in listed] == [
        (1, 10_000, "goodwill", "admin"),
        (2, 23_750, "cancelled course", "admin"),
    ]
    assert all(r["credit_note"] for r in listed)
    second_note = await stack.api.get(
        f"/v1/bookings/{booking['id']}/credit-note.pdf", params={"number": listed[0]["credit_note"]}
    )
    assert second_note.status_code == 200
    assert second_note.headers["content-type"] == "application/pdf"
    await sent(stack.sendgrid, f"{booking['id']}:refunded")
    assert emails_for(stack.sendgrid, booking["id"]) == [
        "confirmation",
        "partly_refunded:1",
        "refunded",
    ]
    # Once REFUNDED, a retry is answered (the booking as it stands) and refunds nothing more;
    # a new refund is refused.
    retried = await stack.api.post(
        refunds, json={"amount": 10_000, "reason": "goodwill"}, headers=first
    )
    assert (retried.status_code, retried.json()["status"]) == (200, "REFUNDED")
    closed = await stack.api.post(refunds, json={"amount": 1}, headers=ADMIN)
    assert closed.status_code == 409
    assert closed.json()["type"].endswith("not-changeable")
    assert await stripe_refunds(stack.stripe_client, booking) == [10_000, 23_750]
    await stripe_agrees(stack, booking["id"], 0)
    await keep_history(stack.temporal, booking["id"], "partial-refunds-admin_refund_then_the_rest")


async def test_a_partial_refund_made_at_stripe_is_read_back_from_its_webhook(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    intent_id = booking["payment"]["payment_intent_id"]
    charge = {"id": f"ch_{uuid.uuid4().hex[:14]}", "object": "charge", "payment_intent": intent_id}

    # In Stripe's dashboard: £10 of £150.
    await stack.stripe_client.v1.refunds.create_async(
        {"payment_intent": intent_id, "amount": 1_000}
    )
    body, headers = signed_event("charge.refunded", charge)
    for _ in range(2):  # Stripe delivers it twice
        delivered = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert delivered.status_code == 200

    async def refunded() -> int:
        return int((await stack.api.get(f"/v1/bookings/{booking['id']}")).json()["amount_refunded"])

    await eventually(refunded, lambda amount: amount == 1_000, within=15)
    assert (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()["status"] == "CONFIRMED"
    assert set((await seats_of(stack.db, session_id)).values()) == {SeatState.FREE, SeatState.SOLD}
    notes = [(1, -1_000)]
    await eventually(lambda: credit_notes(stack.db, booking["id"]), lambda n: n == notes, within=15)

    # Then the rest, also at Stripe: the booking ends REFUNDED for what Stripe says.
    await stack.stripe_client.v1.refunds.create_async(
        {"payment_intent": intent_id, "amount": 14_000}
    )
    body, headers = signed_event("charge.refunded", charge)
    assert (
        await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    ).status_code == 200
    ended = await wait_for_status(stack.api, booking["id"], "REFUNDED")

    assert ended["amount_refunded"] == 15_000
    assert await credit_notes(stack.db, booking["id"]) == [(1, -1_000), (2, -14_000)]
    async with stack.db() as s:
        recorded = await s.scalars(
            select(BookingRefund.amount)
            .where(BookingRefund.booking_id == uuid.UUID(booking["id"]))
            .order_by(BookingRefund.sequence)
        )
        assert list(recorded) == [1_000, 14_000]
    assert SeatState.SOLD not in (await seats_of(stack.db, session_id)).values()
    await sent(stack.sendgrid, f"{booking['id']}:refunded")
    assert emails_for(stack.sendgrid, booking["id"]) == [
        "confirmation",
        "partly_refunded:1",
        "refunded",
    ]
    listed = (await stack.api.get(f"/v1/bookings/{booking['id']}/refunds")).json()
    assert [r["source"] for r in listed] == ["stripe", "stripe"]
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, booking["id"]) == 0
    await keep_history(stack.temporal, booking["id"], "partial-refunds-read_back_from_stripe")


async def test_a_customer_cancel_once_the_session_is_cancelled_refunds_in_full(
    stack: Stack,
) -> None:
    """The organiser's cancellation has stopped the sales (the session is CANCELLED) but not
    reached this booking yet: the customer's own cancel refunds in full, whatever the policy
    (here: never), and giving places back by the policy is refused."""
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30), [])
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    await session_row_cancelled(stack.db, session_id)

    places = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel-places", json={"count": 1})
    assert places.status_code == 409
    assert "session is cancelled" in places.json()["detail"]
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == ("REFUNDED", 15_000)
    listed = (await stack.api.get(f"/v1/bookings/{booking['id']}/refunds")).json()
    assert [(r["amount"], r["source"]) for r in listed] == [(15_000, "session-cancelled")]
    await sent(stack.sendgrid, f"{booking['id']}:session_cancelled")
    await stripe_agrees(stack, booking["id"], 0)


def test_migration_0004_keeps_earlier_credit_notes_and_allows_one_per_refund(
    postgres: Cluster,
) -> None:
    session_id, booking_id = uuid.uuid4(), uuid.uuid4()
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0003")
        sql(
            "INSERT INTO sessions (id, organisation_id, kind, title, location, starts_at, ends_at,"
            " capacity, price_amount, currency, hold_seconds, discount_min_quantity,"
            " discount_basis_points, status) VALUES"
            f" ('{session_id}', '{DEFAULT_ORGANISATION_ID}', 'course', 'T', 'Leeds',"
            " '2031-01-01 09:00Z', '2031-01-01 17:00Z', 4, 1000, 'GBP', 600, 5, 0, 'scheduled')"
        )
        sql(
            "INSERT INTO bookings (id, reference, session_id, customer_name, customer_email,"
            " attendees, quantity, seat_labels, amount_subtotal, discount, amount_total, currency,"
            " status, hold_expires_at, request_fingerprint) VALUES"
            f" ('{booking_id}', 'RFT-1', '{session_id}', 'Ada', 'ada@example.com', '[]', 1,"
            " '[]', 1000, 0, 1000, 'GBP', 'REFUNDED', now(), 'f')"
        )
        sql(
            "INSERT INTO receipts (booking_id, kind, number, total, currency, issued_at, pdf)"
            f" VALUES ('{booking_id}', 'credit_note', 'CN-1', -1000, 'GBP', now(), '')"
        )
        alembic(url, "upgrade", "head")

        assert sql(f"SELECT refund_policy IS NULL FROM sessions WHERE id = '{session_id}'") == "t"
        assert sql(f"SELECT amount_refunded FROM bookings WHERE id = '{booking_id}'") == "0"
        assert sql("SELECT count(*) FROM receipts WHERE refund_sequence IS NULL") == "1"
        sql(
            "INSERT INTO receipts (booking_id, kind, number, total, currency, issued_at, pdf,"
            f" refund_sequence) VALUES ('{booking_id}', 'credit_note', 'CN-2', -500, 'GBP',"
            " now(), '', 1)"
        )
        with pytest.raises(subprocess.CalledProcessError):  # a second full credit note
            sql(
                "INSERT INTO receipts (booking_id, kind, number, total, currency, issued_at, pdf)"
                f" VALUES ('{booking_id}', 'credit_note', 'CN-3', -1000, 'GBP', now(), '')"
            )
        alembic(url, "downgrade", "0003")  # and back: reversible, the first note kept
        assert sql("SELECT string_agg(number, ',') FROM receipts") == "CN-1"
        alembic(url, "upgrade", "head")
