"""Places given back from a confirmed booking through the HTTP API (`cancel-places`): their
share of what was paid refunded, the rest never dearer than paid, and what is refused."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import SeatState
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import paid_booking, session_with, start_booking
from tests.helpers.emails import emails_for
from tests.helpers.refunds import credit_notes, seats_of, sent, stripe_refunds
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    price_session,
    stripe_agrees,
    stripe_echoes_its_refunds,
)
from tests.histories import keep_history

Db = async_sessionmaker[AsyncSession]


async def test_cancelling_some_places_refunds_their_share_of_what_was_paid(stack: Stack) -> None:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    booking = await paid_booking(
        stack.api, stack.stripe_client, session_id, 5
    )  # 5 x £75 - 10 % = £337.50
    places = f"/v1/bookings/{booking['id']}/cancel-places"
    given_back = booking["seats"][:2]
    key = {"Idempotency-Key": str(uuid.uuid4())}

    for bad, status in (
        ({"seats": ["GA-999"]}, 422),
        ({"seats": booking["seats"]}, 422),
        ({"count": 5}, 422),
        ({"seats": given_back, "count": 2}, 422),
    ):
        refused = await stack.api.post(places, json=bad)
        assert refused.status_code == status, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")

    done = await stack.api.post(places, json={"seats": given_back}, headers=key)
    again = await stack.api.post(places, json={"seats": given_back}, headers=key)

    assert done.status_code == again.status_code == 200, done.text
    assert done.json() == again.json()
    kept = done.json()
    # Each place carried £67.50 of the £337.50 paid: 2 given back refund £135.00 in full
    # (default policy); the 3 kept keep what was paid for them, their discount unchanged.
    assert (kept["status"], kept["quantity"], kept["seats"]) == (
        "CONFIRMED",
        3,
        booking["seats"][2:],
    )
    assert (kept["amount_subtotal"], kept["discount"], kept["amount_total"]) == (
        22_500,
        2_250,
        20_250,
    )
    assert (kept["amount_paid"], kept["amount_refunded"], kept["amount_remaining"]) == (
        33_750,
        13_500,
        20_250,
    )
    assert await stripe_refunds(stack.stripe_client, booking) == [13_500]
    assert await credit_notes(stack.db, booking["id"]) == [(1, -13_500)]
    seats = await seats_of(stack.db, session_id)
    assert [seats[label] for label in given_back] == [SeatState.FREE] * 2
    assert [seats[label] for label in kept["seats"]] == [SeatState.SOLD] * 3
    availability = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["availability"]
    assert (availability["sold"], availability["available"]) == (3, 9)
    await sent(stack.sendgrid, f"{booking['id']}:partly_refunded:1")
    assert emails_for(stack.sendgrid, booking["id"]) == ["confirmation", "partly_refunded:1"]
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, booking["id"])
    csv = await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)
    row = next(r for r in csv.text.splitlines() if r.startswith(booking["id"]))
    assert ",20250,33750,13500,20250,GBP," in row  # total, paid, refunded, remaining

    # The freed places sell again; the rest of the booking cancels for what remains paid.
    again_sold = await paid_booking(stack.api, stack.stripe_client, session_id, 2)
    assert sorted(again_sold["seats"]) == sorted(given_back)
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert (cancelled.json()["status"], cancelled.json()["amount_refunded"]) == (
        "REFUNDED",
        33_750,
    )
    assert await stripe_refunds(stack.stripe_client, booking) == [13_500, 20_250]  # sorted
    await stripe_agrees(stack, booking["id"], 0)
    await keep_history(
        stack.temporal, booking["id"], "partial-refunds-places_cancelled_then_the_rest"
    )


async def test_places_given_back_never_make_the_rest_dearer_than_paid(stack: Stack) -> None:
    """30 % off for 5 or more, one of 5 given back: a new quote of 4 (no discount, £300.00)
    would cost more than the £262.50 paid; the place refunds its £52.50 and the 4 keep £210.00."""
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    await price_session(stack.db, session_id, discount=(5, 3_000))
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 5)
    assert booking["amount_total"] == 26_250

    done = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel-places", json={"count": 1})

    assert done.status_code == 200, done.text
    kept = done.json()
    assert (kept["quantity"], kept["amount_subtotal"], kept["amount_total"]) == (4, 30_000, 21_000)
    assert (kept["amount_refunded"], kept["amount_remaining"]) == (5_250, 21_000)
    assert await stripe_refunds(stack.stripe_client, booking) == [5_250]
    await stripe_agrees(stack, booking["id"], 21_000)


async def test_places_of_a_group_made_free_are_given_back_for_nothing(stack: Stack) -> None:
    """100 % off for 2 or more: a place given back refunds nothing and asks Stripe nothing;
    the place kept stays free and the booking can still be cancelled."""
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    await price_session(stack.db, session_id, discount=(2, 10_000))
    booking = await start_booking(stack.api, session_id, 2)
    assert (booking["status"], booking["amount_total"]) == ("CONFIRMED", 0)

    done = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel-places", json={"count": 1})

    assert done.status_code == 200, done.text
    kept = done.json()
    assert (kept["quantity"], kept["amount_subtotal"], kept["discount"]) == (1, 7_500, 7_500)
    assert (kept["amount_total"], kept["amount_paid"], kept["amount_remaining"]) == (0, 0, 0)
    assert kept["payment"]["payment_intent_id"] is None
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "CANCELLED")
    assert cancelled.json()["amount_refunded"] == 0
    assert set((await seats_of(stack.db, session_id)).values()) == {SeatState.FREE}


async def test_a_count_of_more_places_than_held_is_refused_not_cut_short(
    api: httpx.AsyncClient, db: Db
) -> None:
    """Found by the property test: a count above the places held once cancelled fewer places
    (a negative slice) and refunded them; it names every place, which is a cancel instead."""
    session_id = await session_with(api, datetime.now(UTC) + timedelta(days=30))
    await price_session(db, session_id, discount=(2, 10_000))
    booking = await start_booking(api, session_id, 2)

    for count in (2, 3):
        refused = await api.post(
            f"/v1/bookings/{booking['id']}/cancel-places", json={"count": count}
        )
        assert refused.status_code == 422, refused.text
        assert "cancel the booking instead" in refused.json()["detail"]
    kept = (await api.get(f"/v1/bookings/{booking['id']}")).json()
    assert (kept["status"], kept["quantity"]) == ("CONFIRMED", 2)


async def test_places_of_an_unpaid_booking_or_a_started_session_are_not_cancellable(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient
) -> None:
    starts = datetime.now(UTC) + timedelta(seconds=6)
    session_id = await session_with(api, starts)
    unpaid = await start_booking(api, session_id, 3)
    refused = await api.post(f"/v1/bookings/{unpaid['id']}/cancel-places", json={"count": 1})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("not-changeable")

    booking = await paid_booking(api, stripe_client, session_id, 3)
    await asyncio.sleep((starts - datetime.now(UTC)).total_seconds() + 0.5)
    too_late = await api.post(f"/v1/bookings/{booking['id']}/cancel-places", json={"count": 1})
    assert too_late.status_code == 409
    assert "started" in too_late.json()["detail"]
    assert await stripe_refunds(stripe_client, booking) == []
