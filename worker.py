"""Runs the booking workflows and their activities: `python worker.py`."""

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import stripe
import uvloop
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from activities.inventory import InventoryActivities
from activities.mail import make_mailer
from activities.notifications import NotificationActivities
from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities, make_stripe_client
from activities.receipts import ReceiptActivities
from activities.refunds import RefundActivities
from activities.repairs import RepairActivities
from activities.sessions import SessionActivities
from activities.webhook_signals import DeliveryStarter
from activities.webhooks_out import WebhookActivities
from core.db import make_engine, make_sessionmaker
from core.logging import configure_logging
from core.settings import Settings, get_settings
from core.temporal import connect
from documents.receipt_data import Seller
from messages.repairs import SafetyNetInput, WebhookSweep
from messages.webhooks import retry_timings
from workflows.registry import build_worker
from workflows.safety_net import RUN_TIMEOUT, SAFETY_NET_ID, SafetyNetWorkflow


def booking_activities(
    settings: Settings, stack: AsyncExitStack, temporal: Client
) -> list[Callable[..., Any]]:
    """Every activity, bound to its clients; `stack` closes the clients at the end."""
    engine = make_engine(settings, pre_ping=False)  # activities retry a dead connection
    stack.push_async_callback(engine.dispose)
    sessionmaker = make_sessionmaker(engine)
    webhook_starter = DeliveryStarter(
        sessionmaker, temporal, settings.task_queue, retry_timings(settings)
    )
    inventory = InventoryActivities(sessionmaker, webhook_starter)
    # aiohttp costs the worker less than half of httpx's CPU per Stripe call (issue 13).
    stripe_http = stripe.AIOHTTPClient()
    stack.push_async_callback(stripe_http.close_async)
    stripe_client = make_stripe_client(
        settings.stripe_api_key, settings.stripe_api_base, stripe_http
    )
    payments = PaymentActivities(stripe_client, sessionmaker)
    payment_setup = PaymentSetupActivities(payments, inventory)
    receipts = ReceiptActivities(
        sessionmaker,
        Seller(settings.seller_name, settings.seller_address, settings.seller_vat_number),
        settings.vat_rate_basis_points,
        locale=settings.locale,
    )
    notifications = NotificationActivities(
        sessionmaker,
        make_mailer(settings),
        settings.email_from,
        settings.seller_name,
        locale=settings.locale,
    )
    refunds = RefundActivities(sessionmaker, webhook_starter)
    repairs = RepairActivities(sessionmaker, temporal, stripe_client, notifications)
    sessions = SessionActivities(sessionmaker, temporal, webhook_starter)
    # No redirects followed: a webhook goes to the registered URL or is retried.
    http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    stack.push_async_callback(http.aclose)
    webhooks = WebhookActivities(
        sessionmaker,
        http,
        settings.webhook_secret_keys,
        settings.webhook_allow_private_addresses,
    )
    return [
        inventory.reserve,
        inventory.release,
        inventory.discard,
        inventory.confirm,
        inventory.record,
        inventory.release_some,
        payment_setup.open_payment,
        payments.get_intent,
        payments.cancel_intent,
        payments.refund,
        payments.list_refunds,
        refunds.record,
        receipts.issue,
        notifications.send,
        repairs.orphan_holds,
        repairs.release,
        repairs.unclaimed_payments,
        repairs.booking_money,
        repairs.record_refunds,
        repairs.failed_emails,
        repairs.send_again,
        sessions.stop_sales,
        sessions.cancel_booking,
        webhooks.next_delivery,
        webhooks.deliver,
        webhooks.give_up,
        webhook_starter.wake_stale,
    ]


async def ensure_safety_net(client: Client, settings: Settings) -> None:
    """Create the safety net's schedule, or bring an existing one to today's settings."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            SafetyNetWorkflow.run,
            SafetyNetInput(
                hold_grace_seconds=settings.safety_net_hold_grace_seconds,
                payment_window_seconds=settings.late_payment_window_seconds,
                # Longer than any wait between two attempts of a delivery, so a delivery
                # whose workflow is backing off is not counted as lost.
                webhook_sweep=WebhookSweep(
                    untried_seconds=settings.safety_net_hold_grace_seconds,
                    tried_seconds=settings.webhook_retry_max_interval_seconds
                    + settings.safety_net_hold_grace_seconds,
                ),
            ),
            id=SAFETY_NET_ID,
            task_queue=settings.task_queue,
            # A stuck run is cut, so it cannot hold back every later one.
            run_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.safety_net_interval_seconds))
            ]
        ),
        # A run longer than the interval delays the next (one is kept), never skips them all.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )
    try:
        await client.create_schedule(SAFETY_NET_ID, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(SAFETY_NET_ID).update(
            lambda _: ScheduleUpdate(schedule=schedule)
        )


async def main() -> None:
    configure_logging()
    settings = get_settings()
    # The SDK's own metrics (task latencies, slots, cache) for Prometheus to scrape.
    metrics = PrometheusConfig(bind_address=settings.worker_metrics_address)
    client = await connect(settings, runtime=Runtime(telemetry=TelemetryConfig(metrics=metrics)))
    async with AsyncExitStack() as stack:
        await ensure_safety_net(client, settings)
        worker = build_worker(client, settings, booking_activities(settings, stack, client))
        logging.info("worker polling task queue %r", settings.task_queue)
        await worker.run()


if __name__ == "__main__":
    # uvloop: the event loop's own socket and scheduling work, a good part of the worker's CPU
    # (asyncpg, Stripe and Temporal's plumbing all run on it), costs less than asyncio's.
    uvloop.run(main())
