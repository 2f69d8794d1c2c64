"""The safety net puts right what a dead booking workflow leaves (issue 9, case 3): an operator
terminates a pending booking; its places come back; the customer pays anyway; it is refunded."""

import asyncio
import uuid
from datetime import timedelta

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, ScheduleIntervalSpec

from api.booking_workflows import start_booking_workflow
from core.settings import Settings
from devstack.pay import pay
from models.booking import BookingRequest, booking_workflow_id
from models.enums import BookingStatus
from models.repairs import RepairReport, SafetyNetInput
from models.tables import Booking
from tests.api.helpers import emails_for
from tests.conftest import SessionFactory
from tests.fakes.sendgrid_server import FakeSendGrid
from worker import ensure_safety_net
from workflows.safety_net import SAFETY_NET_ID, SafetyNetWorkflow

Db = async_sessionmaker[AsyncSession]


async def run_safety_net(temporal: Client, settings: Settings) -> RepairReport:
    return await temporal.execute_workflow(
        SafetyNetWorkflow.run,
        SafetyNetInput(hold_grace_seconds=300, payment_window_seconds=3600, settle_seconds=0),
        id=f"safety-net-test-{uuid.uuid4()}",
        task_queue=settings.task_queue,
    )


async def test_a_terminated_booking_gets_its_places_back_and_late_money_refunded(
    temporal: Client,
    settings: Settings,
    worker: None,
    api_url: str,
    db: Db,
    new_session: SessionFactory,
    stripe_client: stripe.StripeClient,
    sendgrid: FakeSendGrid,
) -> None:
    session_id = await new_session(capacity=3)
    booking_id = str(uuid.uuid4())
    view = await start_booking_workflow(
        temporal,
        settings,
        BookingRequest(
            booking_id=booking_id,
            session_id=session_id,
            customer_name="Ada Lovelace",
            customer_email="ada@example.com",
            quantity=3,
            request_fingerprint="terminated",
        ),
    )
    await temporal.get_workflow_handle(booking_workflow_id(booking_id)).terminate("by an operator")

    report = await run_safety_net(temporal, settings)

    assert booking_id in report.released
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None and row.status == BookingStatus.CANCELLED
    assert row.status_reason is not None and "safety net" in row.status_reason
    assert view.payment_intent_id is not None
    assert view.payment_intent_id not in report.refunded  # nobody paid yet

    assert await pay(stripe_client, view.payment_intent_id) == "succeeded"
    await asyncio.sleep(2)  # localstripe's webhook finds the workflow gone: recorded only
    report = await run_safety_net(temporal, settings)

    assert view.payment_intent_id in report.refunded
    refunds = await stripe_client.v1.refunds.list_async({"payment_intent": view.payment_intent_id})
    assert [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data] == [
        (view.amount_total, "late-payment")
    ]
    assert "late_payment_refunded" in await emails_for(sendgrid, booking_id, within=5)

    again = await run_safety_net(temporal, settings)  # nothing left to put right
    assert booking_id not in again.released
    assert view.payment_intent_id not in again.refunded


async def test_the_worker_keeps_one_schedule_for_the_safety_net(
    temporal: Client, settings: Settings
) -> None:
    await ensure_safety_net(temporal, settings)
    quicker = settings.model_copy(update={"safety_net_interval_seconds": 60})
    await ensure_safety_net(temporal, quicker)  # a second start updates, never duplicates
    handle = temporal.get_schedule_handle(SAFETY_NET_ID)
    try:
        described = await handle.describe()
        intervals = described.schedule.spec.intervals
        assert intervals == [ScheduleIntervalSpec(every=timedelta(seconds=60))]
    finally:
        await handle.delete()
