"""The consistency checker and the safety net's finder read every Stripe account in use: a
connected organisation's payments are neither missed nor reported as unknown, and money in its
account that no booking claims is found there."""

import asyncio

import httpx
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.enums import BookingStatus
from core.settings import Settings
from reconcile.consistency import Invariant, Rule
from reconcile.findings import unclaimed_payments
from tests.helpers.api_bookings import start_booking, wait_for_status
from tests.helpers.connect import Connected, organiser, paid_in
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.sellers import session_of
from tests.reconcile.breaking import refund_at_stripe, seen, stray_payment

Db = async_sessionmaker[AsyncSession]


async def test_a_connected_account_s_payments_are_checked_where_they_are(
    stripe_client: stripe.StripeClient,
    db: Db,
    settings: Settings,
    api_url: str,
    temporal: Client,
    run_check: Check,
) -> None:
    async with organiser(db, settings, api_url) as (connected, organiser_api):
        await checked(connected, organiser_api, stripe_client, db, temporal, run_check)


async def checked(
    connected: Connected,
    organiser_api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: Db,
    temporal: Client,
    run_check: Check,
) -> None:
    session_id = await session_of(db, connected.organisation_id)
    short_hold = await session_of(db, connected.organisation_id, hold_seconds=1)
    paid = await paid_in(organiser_api, stripe_client, connected, session_id)
    refunded = await paid_in(organiser_api, stripe_client, connected, session_id)
    cancel = await organiser_api.post(f"/v1/bookings/{refunded['id']}/cancel")
    assert cancel.status_code == 200, cancel.text
    expired = await start_booking(organiser_api, short_hold)
    expired = await wait_for_status(organiser_api, expired["id"], "EXPIRED", within=15)
    world = World(
        [session_id, short_hold], {"paid": paid, "refunded": refunded, "expired": expired}
    )
    await at_rest(db, world)

    healthy = await run_check(world)
    assert healthy.violations == []
    assert (healthy.counts.payment_intents, healthy.counts.payments_succeeded) == (3, 2)

    stray = await stray_payment(stripe_client, expired, account=connected.account)
    await asyncio.sleep(1.5)  # localstripe's webhook reaches the booking, which ignores it
    report = await run_check(world)
    assert seen(report) == {(Invariant.MONEY_BALANCES, Rule.UNCLAIMED_PAYMENT, stray)}
    [payment] = await unclaimed_payments(
        db, temporal, stripe_client, session_ids=world.session_ids, settle_seconds=1
    )
    assert (payment.payment_intent_id, payment.booking_status, payment.account) == (
        stray,
        BookingStatus.EXPIRED,
        connected.account,
    )

    await refund_at_stripe(stripe_client, stray, account=connected.account)
    assert (await run_check(world)).violations == []
