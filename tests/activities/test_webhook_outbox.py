"""The webhook outbox: written in the activity's own transaction, once however often the
activity runs, and sent even when waking its delivery workflow failed after the commit."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from activities.inventory import InventoryActivities
from activities.webhook_signals import DeliveryStarter
from core.enums import BookingStatus, WebhookDeliveryStatus
from core.settings import Settings
from devstack.ports import free_port
from messages.booking import Transition
from messages.webhooks import retry_timings
from tests.api.webhooks_out.helpers import wait_for
from tests.conftest import SessionFactory
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.activity_bookings import events_of, reserved
from tests.helpers.polling import eventually


async def test_an_activity_run_again_writes_no_second_event(
    db: async_sessionmaker[AsyncSession],
    receiver_endpoint: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    inventory = InventoryActivities(db)  # nothing woken: the rows are what we look at
    booking_id = await reserved(inventory, await new_session())
    pending = Transition(booking_id, BookingStatus.PENDING_PAYMENT, payment_intent_id="pi_x")
    for _ in range(2):
        await inventory.record(pending)
        await inventory.record(Transition(booking_id, BookingStatus.PENDING_PAYMENT))  # extended
        await inventory.confirm(booking_id)
    await inventory.record(Transition(booking_id, BookingStatus.COMPLETED))  # not an event
    assert await events_of(db, booking_id) == [
        ("booking.created", 1, WebhookDeliveryStatus.PENDING),
        ("booking.confirmed", 2, WebhookDeliveryStatus.PENDING),
    ]


async def test_a_wake_up_lost_after_the_commit_is_made_good_by_the_retry(
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    worker: None,
    receiver_endpoint: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    timings = retry_timings(settings)
    down = InventoryActivities(db, DeliveryStarter(db, nowhere, settings.task_queue, timings))
    booking_id = await reserved(down, await new_session())
    created = Transition(booking_id, BookingStatus.PENDING_PAYMENT, payment_intent_id="pi_y")
    # Temporal unreachable: the client's lazy connection fails (RuntimeError), a call an RPCError.
    with pytest.raises((RPCError, RuntimeError)):
        await down.record(created)  # committed, but Temporal could not be told
    assert await events_of(db, booking_id) == [
        ("booking.created", 1, WebhookDeliveryStatus.PENDING)
    ]

    up = InventoryActivities(db, DeliveryStarter(db, temporal, settings.task_queue, timings))
    await up.record(created)  # the activity's retry
    got = await wait_for(lambda: receiver_endpoint.accepted("shop"), 1)
    assert [(r.type, r.body["data"]["booking"]["id"]) for r in got] == [
        ("booking.created", booking_id)
    ]
    # The receiver answers before the delivery workflow writes down that it did.
    delivered = [("booking.created", 1, WebhookDeliveryStatus.DELIVERED)]
    await eventually(
        lambda: events_of(db, booking_id),
        lambda events: events == delivered,
        every=0.05,
        what="the delivery recorded",
    )
