"""The safety net reads each connected account in use: late money paid into an organisation's
own Stripe account for a booking whose workflow is gone is found and refunded there."""

import asyncio
import uuid

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.settings import Settings
from devstack.pay import pay
from messages.booking import booking_workflow_id
from models.tables import Booking
from tests.helpers.connect import connected_organisation
from tests.helpers.sellers import session_of
from tests.helpers.workflow_bookings import book, run_safety_net
from tests.workflows.test_safety_net import refunds_of
from workflows.stripe_refunds import SAFETY_NET_REASON

Db = async_sessionmaker[AsyncSession]


async def test_late_money_in_a_connected_account_is_refunded_there(
    temporal: Client, settings: Settings, worker: None, db: Db, stripe_client: stripe.StripeClient
) -> None:
    connected = await connected_organisation(db, settings)
    view = await book(temporal, settings, await session_of(db, connected.organisation_id))
    assert view.payment_intent_id is not None
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(view.id))
    assert row is not None and row.stripe_account_id == connected.account
    await temporal.get_workflow_handle(booking_workflow_id(view.id)).terminate("by an operator")
    assert view.id in (await run_safety_net(temporal, settings)).released

    paid = await pay(stripe_client, view.payment_intent_id, account=connected.account)
    assert paid == "succeeded"
    await asyncio.sleep(2)  # localstripe's webhook finds the workflow gone: recorded only
    report = await run_safety_net(temporal, settings)

    assert view.payment_intent_id in report.refunded
    refunds = await stripe_client.v1.refunds.list_async(
        {"payment_intent": view.payment_intent_id}, connected.on_account()
    )
    assert [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data] == [
        (view.amount_total, "late-payment")
    ]
    assert await refunds_of(db, view.id) == [(view.amount_total, SAFETY_NET_REASON)]
    again = await run_safety_net(temporal, settings)
    assert view.payment_intent_id not in again.refunded
