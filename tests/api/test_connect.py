"""An organisation paid into its own Stripe account, through the API with the real worker and
localstripe: its bookings are paid, partly refunded and cancelled in that account, with the
platform's fee, while the platform's bookings behave as before; and a signed event whose
account does not own the booking it names changes nothing."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.platform_fee import platform_fee
from devstack.pay import pay
from messages.booking import booking_workflow_id
from models.tables import Booking, StripeEvent
from tests.conftest import SessionFactory
from tests.helpers.api_bookings import start_booking, wait_for_status
from tests.helpers.connect import (
    FEE_BASIS_POINTS,
    FEE_FIXED,
    Connected,
    new_account,
    organiser,
    session_of,
)
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import recorded, signed_event

Db = async_sessionmaker[AsyncSession]
Json = dict[str, Any]
PRICE = 7500


async def refunds_at(
    stripe_client: stripe.StripeClient, booking: Json, account: str | None
) -> list[int]:
    page = await stripe_client.v1.refunds.list_async(
        {"payment_intent": booking["payment"]["payment_intent_id"]}, {"stripe_account": account}
    )
    return sorted(r.amount for r in page.data)


async def row_of(db: Db, booking_id: str) -> Booking:
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None
    return row


async def payment_signals(temporal: Client, booking_id: str) -> int:
    """How many `payment_event` signals the booking's workflow has had."""
    history = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).fetch_history()
    return sum(
        event.workflow_execution_signaled_event_attributes.signal_name == "payment_event"
        for event in history.events
    )


async def test_two_organisations_are_paid_refunded_and_cancelled_each_in_its_account(
    stack: Stack,
) -> None:
    """Three bookings of each, at once: each payment, fee and refund in its own account."""
    async with (
        organiser(stack.db, stack.settings, stack.api_url) as (harbour, harbour_api),
        organiser(stack.db, stack.settings, stack.api_url, 100, 0) as (rescue, rescue_api),
    ):
        sessions = {
            harbour.account: await session_of(stack.db, harbour.organisation_id),
            rescue.account: await session_of(stack.db, rescue.organisation_id),
        }
        flows = [
            paid_refunded_and_cancelled(stack, connected, api, sessions[connected.account], fee)
            for connected, api, fee in ((harbour, harbour_api, 208), (rescue, rescue_api, 75))
            for _ in range(3)
        ]
        bookings = await asyncio.gather(*flows)
    assert platform_fee(PRICE, FEE_BASIS_POINTS, FEE_FIXED) == 208  # 187.5 -> 188, and 20
    assert platform_fee(PRICE, 100, 0) == 75
    for booking in bookings:
        other = rescue if booking["payment"]["stripe_account_id"] == harbour.account else harbour
        with pytest.raises(stripe.InvalidRequestError):  # nothing of it in the other's account
            await refunds_at(stack.stripe_client, booking, other.account)


async def paid_refunded_and_cancelled(
    stack: Stack,
    connected: Connected,
    organiser_api: httpx.AsyncClient,
    session_id: str,
    fee: int,
) -> Json:
    booking = await start_booking(organiser_api, session_id)
    assert booking["payment"]["stripe_account_id"] == connected.account
    intent_id = booking["payment"]["payment_intent_id"]
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
        intent_id, options=connected.on_account()
    )
    assert intent.application_fee_amount == fee

    # Paid in its account: localstripe's event names the account, which owns the booking.
    assert await pay(stack.stripe_client, intent_id, account=connected.account) == "succeeded"
    booking = await wait_for_status(organiser_api, booking["id"], "CONFIRMED")
    row = await row_of(stack.db, booking["id"])
    assert (row.stripe_account_id, row.application_fee_amount) == (connected.account, fee)

    admin = {"Authorization": f"Bearer {connected.admin_key}"}
    refunds = f"/v1/bookings/{booking['id']}/refunds"
    part = await organiser_api.post(
        refunds, json={"amount": 2000, "reason": "goodwill"}, headers=admin
    )
    assert (part.status_code, part.json()["amount_refunded"]) == (200, 2000), part.text
    cancelled = await organiser_api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["amount_refunded"] == PRICE

    assert await refunds_at(stack.stripe_client, booking, connected.account) == [2000, 5500]
    with pytest.raises(stripe.InvalidRequestError):  # no such payment in the platform's account
        await refunds_at(stack.stripe_client, booking, None)
    page = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": intent_id}, connected.on_account()
    )
    assert all(r.to_dict()["refund_application_fee"] for r in page.data)
    return booking


async def test_a_platform_booking_is_paid_and_refunded_in_the_platform_s_account(
    stack: Stack,
) -> None:
    session_id = await stack.new_session()
    booking = await start_booking(stack.api, session_id)
    assert booking["payment"]["stripe_account_id"] is None
    assert await pay(stack.stripe_client, booking["payment"]["payment_intent_id"]) == "succeeded"
    booking = await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert cancelled.json()["amount_refunded"] == PRICE
    assert await refunds_at(stack.stripe_client, booking, None) == [PRICE]
    row = await row_of(stack.db, booking["id"])
    assert (row.stripe_account_id, row.application_fee_amount) == (None, None)


async def test_an_event_whose_account_does_not_own_the_booking_changes_nothing(
    stack: Stack,
) -> None:
    """Signed, so answered 200 (Stripe would only send it again), recorded as `wrong-account`:
    no signal reaches the booking and it stays unpaid."""
    async with organiser(stack.db, stack.settings, stack.api_url) as (connected, organiser_api):
        await forged_events_change_nothing(stack, connected, organiser_api)


async def forged_events_change_nothing(
    stack: Stack, connected: Connected, organiser_api: httpx.AsyncClient
) -> None:
    their_session = await session_of(stack.db, connected.organisation_id)
    theirs = await start_booking(organiser_api, their_session)
    ours = await start_booking(stack.api, await stack.new_session())
    forged = [
        (theirs, new_account()),  # another connected account
        (theirs, None),  # the platform's, for a connected account's booking
        (ours, connected.account),  # a connected account, for the platform's booking
    ]
    for booking, account in forged:
        intent = {
            "id": booking["payment"]["payment_intent_id"],
            "object": "payment_intent",
            "metadata": {"booking_id": booking["id"]},
        }
        event_id = f"evt_{uuid.uuid4().hex[:24]}"
        body, headers = signed_event(
            "payment_intent.succeeded", intent, event_id=event_id, account=account
        )
        answer = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert (answer.status_code, answer.json()["outcome"]) == (200, "wrong-account")
        event: StripeEvent | None = await recorded(stack.db, event_id)
        assert event is not None and event.outcome == "wrong-account"

    for booking, api in ((theirs, organiser_api), (ours, stack.api)):
        shown = (await api.get(f"/v1/bookings/{booking['id']}")).json()
        assert shown["status"] == "PENDING_PAYMENT"
        assert (await row_of(stack.db, booking["id"])).status == "PENDING_PAYMENT"
        assert await payment_signals(stack.temporal, booking["id"]) == 0

    # The same event from the account that owns the booking is signalled.
    intent = {"id": theirs["payment"]["payment_intent_id"], "object": "payment_intent"}
    body, headers = signed_event("payment_intent.processing", intent, account=connected.account)
    answer = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert answer.json()["outcome"] == "signalled"
    assert await payment_signals(stack.temporal, theirs["id"]) == 1


async def test_events_signed_with_the_connect_endpoint_s_secret_are_read_too(
    api_variant: Any, api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    booking = await start_booking(api, await new_session())
    intent = {"id": booking["payment"]["payment_intent_id"], "object": "payment_intent"}
    async with api_variant(stripe_connect_webhook_secret="whsec_connect") as variant:
        for secret, status in (("whsec_connect", 200), ("whsec_neither", 400)):
            body, headers = signed_event("payment_intent.processing", intent, secret=secret)
            answer = await variant.post("/v1/webhooks/stripe", content=body, headers=headers)
            assert answer.status_code == status, (secret, answer.text)
        body, headers = signed_event("payment_intent.processing", intent)  # the account secret
        assert (await variant.post("/v1/webhooks/stripe", content=body, headers=headers)).is_success
    body, headers = signed_event("payment_intent.processing", intent, secret="whsec_connect")
    assert (await api.post("/v1/webhooks/stripe", content=body, headers=headers)).status_code == 400
