"""Payments of an organisation paid into its own Stripe account (Connect direct charges): the
intent is made there with the platform's fee, and every later call about it (read, cancel,
refunds) goes to the account its booking recorded, never another."""

import uuid
from dataclasses import dataclass

import pytest
import stripe
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities
from core.errors import PaymentObjectMissing
from core.platform_fee import platform_fee
from core.settings import Settings
from devstack.pay import pay
from messages.payments import CreatePaymentIntent, PaymentState, RefundRequest
from models.tables import Booking, Organisation
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import reserved
from tests.helpers.connect import (
    FEE_BASIS_POINTS,
    FEE_FIXED,
    Connected,
    connected_organisation,
    new_account,
)
from tests.helpers.sellers import session_of

Db = async_sessionmaker[AsyncSession]
PRICE = 7500


@dataclass(frozen=True)
class Opened:
    """A booking whose payment `open_payment` made: its id, intent and recorded row."""

    booking_id: str
    intent_id: str
    row: Booking


async def opened(payments: PaymentActivities, db: Db, session_id: str) -> Opened:
    inventory = InventoryActivities(db)
    booking_id = await reserved(inventory, session_id)
    intent = await PaymentSetupActivities(payments, inventory).open_payment(
        CreatePaymentIntent(booking_id, PRICE, "GBP", "ada@example.com")
    )
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None and row.payment_intent_id == intent.id
    return Opened(booking_id, intent.id, row)


async def paid(
    payments: PaymentActivities, db: Db, stripe_client: stripe.StripeClient, connected: Connected
) -> Opened:
    booking = await opened(payments, db, await session_of(db, connected.organisation_id))
    assert await pay(stripe_client, booking.intent_id, account=connected.account) == "succeeded"
    return booking


async def refund(payments: PaymentActivities, request: RefundRequest) -> int:
    return (await ActivityEnvironment().run(payments.refund, request)).amount


async def refunds_in(
    stripe_client: stripe.StripeClient, intent_id: str, account: str | None
) -> list[int]:
    page = await stripe_client.v1.refunds.list_async(
        {"payment_intent": intent_id}, {"stripe_account": account}
    )
    return sorted(r.amount for r in page.data)


async def test_the_intent_is_made_in_the_organisation_s_account_with_its_fee(
    db: Db, settings: Settings, stripe_client: stripe.StripeClient
) -> None:
    connected = await connected_organisation(db, settings)
    payments = PaymentActivities(stripe_client, db)
    booking = await opened(payments, db, await session_of(db, connected.organisation_id))

    fee = platform_fee(PRICE, FEE_BASIS_POINTS, FEE_FIXED)
    assert fee == 208  # 2.5 % of 75.00 is 1.875 -> 1.88, and 0.20
    assert (booking.row.stripe_account_id, booking.row.application_fee_amount) == (
        connected.account,
        fee,
    )
    intents = stripe_client.v1.payment_intents
    there = await intents.retrieve_async(booking.intent_id, options=connected.on_account())
    assert (there.amount, there.application_fee_amount) == (PRICE, fee)
    with pytest.raises(stripe.InvalidRequestError):
        await intents.retrieve_async(booking.intent_id)  # not in the platform's account


async def test_a_platform_booking_pays_the_platform_with_no_fee(
    db: Db, stripe_client: stripe.StripeClient, new_session: SessionFactory
) -> None:
    payments = PaymentActivities(stripe_client, db)
    booking = await opened(payments, db, await new_session())

    assert (booking.row.stripe_account_id, booking.row.application_fee_amount) == (None, None)
    there = await stripe_client.v1.payment_intents.retrieve_async(booking.intent_id)
    assert there.application_fee_amount is None
    assert await pay(stripe_client, booking.intent_id) == "succeeded"
    in_full = RefundRequest(booking.booking_id, booking.intent_id, "admin")
    assert await refund(payments, in_full) == PRICE
    assert await refunds_in(stripe_client, booking.intent_id, None) == [PRICE]


async def test_a_zero_fee_asks_for_none(
    db: Db, settings: Settings, stripe_client: stripe.StripeClient
) -> None:
    connected = await connected_organisation(db, settings, fee_basis_points=0, fee_fixed=0)
    payments = PaymentActivities(stripe_client, db)
    booking = await opened(payments, db, await session_of(db, connected.organisation_id))

    assert (booking.row.stripe_account_id, booking.row.application_fee_amount) == (
        connected.account,
        0,
    )
    intent = await stripe_client.v1.payment_intents.retrieve_async(
        booking.intent_id, options=connected.on_account()
    )
    assert intent.application_fee_amount is None


async def test_reads_refunds_and_cancels_go_to_the_account_the_booking_recorded(
    db: Db, settings: Settings, stripe_client: stripe.StripeClient
) -> None:
    """Even once the organisation has moved to another account: the payment stays where it
    was made, and so do its refunds (with their share of the platform's fee)."""
    connected = await connected_organisation(db, settings)
    payments = PaymentActivities(stripe_client, db)
    booking = await paid(payments, db, stripe_client, connected)
    unpaid = await opened(payments, db, await session_of(db, connected.organisation_id))
    async with db.begin() as s:
        await s.execute(
            update(Organisation)
            .where(Organisation.id == connected.organisation_id)
            .values(stripe_account_id=new_account())
        )

    read = await ActivityEnvironment().run(payments.get_intent, booking.intent_id)
    assert (read.status, read.amount_received) == (PaymentState.PAID, PRICE)
    assert read.card_last4 == "4242"
    first = RefundRequest(booking.booking_id, booking.intent_id, "admin", 2500, 1)
    assert await refund(payments, first) == 2500
    assert await refund(payments, first) == 2500  # once
    listed = await ActivityEnvironment().run(payments.list_refunds, booking.intent_id)
    assert [r.amount for r in listed] == [2500]
    page = await stripe_client.v1.refunds.list_async(
        {"payment_intent": booking.intent_id}, connected.on_account()
    )
    assert [r.to_dict()["refund_application_fee"] for r in page.data] == [True]
    rest = RefundRequest(booking.booking_id, booking.intent_id, "admin", 5000, 2)
    assert await refund(payments, rest) == 5000
    assert await refunds_in(stripe_client, booking.intent_id, connected.account) == [2500, 5000]

    cancelled = await ActivityEnvironment().run(payments.cancel_intent, unpaid.intent_id)
    assert cancelled.status == PaymentState.VOID


async def test_one_organisation_s_refund_never_touches_another_s_payment(
    db: Db, settings: Settings, stripe_client: stripe.StripeClient
) -> None:
    """A refund for booking A naming B's intent is made in A's account, where that intent is
    not: refused for good, and B's payment is untouched."""
    payments = PaymentActivities(stripe_client, db)
    a = await connected_organisation(db, settings)
    b = await connected_organisation(db, settings)
    of_a = await paid(payments, db, stripe_client, a)
    of_b = await paid(payments, db, stripe_client, b)

    for wrong in (
        RefundRequest(of_a.booking_id, of_b.intent_id, "admin", 1000, 1),
        RefundRequest(of_b.booking_id, of_b.intent_id, "late-payment", stripe_account_id=a.account),
    ):
        with pytest.raises(PaymentObjectMissing) as refused:
            await refund(payments, wrong)
        assert refused.value.non_retryable

    assert await refunds_in(stripe_client, of_b.intent_id, b.account) == []
    assert await refunds_in(stripe_client, of_a.intent_id, a.account) == []
    with pytest.raises(stripe.InvalidRequestError):
        await refunds_in(stripe_client, of_b.intent_id, None)  # nor on the platform's
