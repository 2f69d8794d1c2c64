"""Creating and recording a booking's PaymentIntent in one step: a retry after the commit
writes no second `booking.created`, and the row holds the intent the step answers."""

import uuid

import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from activities.inventory import InventoryActivities
from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities
from activities.webhook_signals import DeliveryStarter
from core.enums import BookingStatus, WebhookDeliveryStatus
from core.errors import PaymentRequestInvalid
from core.settings import Settings
from devstack.ports import free_port
from messages.payments import CreatePaymentIntent
from messages.webhooks import retry_timings
from models.tables import Booking
from tests.conftest import SessionFactory
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.activity_bookings import events_of, reserved


async def test_a_retry_after_the_commit_records_the_intent_once(
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    stripe_client: stripe.StripeClient,
    receiver_endpoint: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    payments = PaymentActivities(stripe_client)
    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    inventory = InventoryActivities(
        db, DeliveryStarter(db, nowhere, settings.task_queue, retry_timings(settings))
    )
    booking_id = await reserved(inventory, await new_session())
    request = CreatePaymentIntent(booking_id, 2500, "GBP", "ada@example.com")
    step = PaymentSetupActivities(payments, inventory)
    with pytest.raises((RPCError, RuntimeError)):
        await step.open_payment(request)  # committed, but Temporal could not be told

    retried = await PaymentSetupActivities(payments, InventoryActivities(db)).open_payment(request)
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None
    assert (row.status, row.payment_intent_id) == (BookingStatus.PENDING_PAYMENT, retried.id)
    assert (retried.amount, retried.currency) == (2500, "GBP") and retried.client_secret
    assert await events_of(db, booking_id) == [
        ("booking.created", 1, WebhookDeliveryStatus.PENDING)
    ]


async def test_a_discarded_setup_leaves_no_event_behind(
    db: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
    receiver_endpoint: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    """The step committed `booking.created`, then failed: the workflow discards the booking,
    and no shop hears of a booking that never was."""
    inventory = InventoryActivities(db)
    booking_id = await reserved(inventory, await new_session())
    request = CreatePaymentIntent(booking_id, 2500, "GBP", "ada@example.com")
    await PaymentSetupActivities(PaymentActivities(stripe_client), inventory).open_payment(request)
    assert [event for event, _, _ in await events_of(db, booking_id)] == ["booking.created"]

    await inventory.discard(booking_id)
    assert await events_of(db, booking_id) == []


async def test_a_stripe_refusal_records_nothing(
    db: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
    receiver_endpoint: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    """Stripe first, then the database: localstripe refuses an intent of 0, for good (no retry
    can change its answer), and the booking neither holds an intent nor told any shop."""
    inventory = InventoryActivities(db)
    booking_id = await reserved(inventory, await new_session())
    step = PaymentSetupActivities(PaymentActivities(stripe_client), inventory)
    with pytest.raises(PaymentRequestInvalid) as refused:
        await step.open_payment(CreatePaymentIntent(booking_id, 0, "GBP", "ada@example.com"))
    assert refused.value.non_retryable

    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None and row.payment_intent_id is None
    assert await events_of(db, booking_id) == []
