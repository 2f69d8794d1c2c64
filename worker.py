"""Runs the booking workflows and their activities: `python worker.py`."""

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import uvloop
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
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
from temporalio.service import RPCError

from activities.certificates import AttendanceActivities, CertificateActivities
from activities.inventory import InventoryActivities
from activities.mail import make_mailer
from activities.moves import MoveActivities
from activities.notifications import NotificationActivities
from activities.payment_setup import PaymentSetupActivities
from activities.payments import PaymentActivities, make_stripe_client
from activities.receipts import ReceiptActivities
from activities.refunds import RefundActivities
from activities.repairs import RepairActivities
from activities.session_changes import SessionChangeActivities
from activities.sessions import SessionActivities
from activities.waiting_list import WaitingListActivities
from activities.waiting_list_signals import WaitingListSignals
from activities.webhook_signals import DeliveryStarter
from activities.webhooks_out import WebhookActivities
from core.db import make_engine, make_sessionmaker
from core.health import serving_health
from core.logging import configure_logging
from core.settings import Settings, get_settings
from core.temporal import connect
from core.tracing import stripe_http, temporal_interceptors, tracer_provider
from messages.repairs import SafetyNetInput, WebhookSweep
from messages.webhooks import retry_timings
from workflows.registry import build_worker
from workflows.safety_net import RUN_TIMEOUT, SAFETY_NET_ID, SafetyNetWorkflow

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def booking_activities(
    settings: Settings,
    stack: AsyncExitStack,
    temporal: Client,
    tracing: "TracerProvider | None" = None,
) -> list[Callable[..., Any]]:
    """Every activity, bound to its clients; `stack` closes the clients at the end; with
    `tracing`, Stripe's requests are spans (core/tracing.py)."""
    engine = make_engine(settings, pre_ping=False)  # activities retry a dead connection
    stack.push_async_callback(engine.dispose)
    sessionmaker = make_sessionmaker(engine)
    webhook_starter = DeliveryStarter(
        sessionmaker, temporal, settings.task_queue, retry_timings(settings)
    )
    waiting_lists = WaitingListSignals(sessionmaker, temporal, settings.task_queue)
    inventory = InventoryActivities(sessionmaker, webhook_starter, waiting_lists)
    moves = MoveActivities(sessionmaker, webhook_starter, waiting_lists)
    # aiohttp costs the worker less than half of httpx's CPU per Stripe call (issue 13).
    stripe_client_http = stripe_http(tracing)
    stack.push_async_callback(stripe_client_http.close_async)
    stripe_client = make_stripe_client(
        settings.stripe_api_key, settings.stripe_api_base, stripe_client_http
    )
    payments = PaymentActivities(stripe_client, sessionmaker)
    payment_setup = PaymentSetupActivities(payments, inventory)
    receipts = ReceiptActivities(sessionmaker, settings.ticket_signing_keys)
    notifications = NotificationActivities(
        sessionmaker, make_mailer(settings), settings.email_from, settings.ticket_signing_keys
    )
    refunds = RefundActivities(sessionmaker, webhook_starter)
    attendance = AttendanceActivities(sessionmaker, temporal, settings.task_queue, webhook_starter)
    certificates = CertificateActivities(sessionmaker, settings.ticket_signing_keys)
    repairs = RepairActivities(sessionmaker, temporal, stripe_client, notifications)
    sessions = SessionActivities(sessionmaker, temporal, webhook_starter)
    session_changes = SessionChangeActivities(sessionmaker, temporal, webhook_starter)
    waiting_list = WaitingListActivities(
        sessionmaker,
        settings.api_key_pepper,
        make_mailer(settings),
        settings.email_from,
        settings.waiting_list_accept_url,
        webhook_starter,
    )
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
        moves.hold,
        moves.settle,
        moves.settle_split,
        moves.release,
        payment_setup.open_payment,
        payment_setup.open_move_payment,
        payments.get_intent,
        payments.cancel_intent,
        payments.refund,
        payments.list_refunds,
        refunds.record,
        receipts.issue,
        notifications.send,
        attendance.record,
        certificates.issue,
        repairs.orphan_holds,
        repairs.release,
        repairs.unclaimed_payments,
        repairs.booking_money,
        repairs.record_refunds,
        repairs.failed_emails,
        repairs.send_again,
        repairs.stalled_lists,
        repairs.nudge_list,
        sessions.stop_sales,
        sessions.cancel_booking,
        session_changes.to_announce,
        session_changes.move_booking,
        session_changes.publish_booking_updated,
        webhooks.next_delivery,
        webhooks.deliver,
        webhooks.give_up,
        webhook_starter.wake_stale,
        waiting_list.advance,
        waiting_list.send_email,
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
    stopping = stop_on_signals()
    tracing = tracer_provider(settings, "booking-worker")
    # The SDK's own metrics (task latencies, slots, cache) for Prometheus to scrape.
    metrics = PrometheusConfig(bind_address=settings.worker_metrics_address)
    client = await connect(
        settings,
        runtime=Runtime(telemetry=TelemetryConfig(metrics=metrics)),
        interceptors=temporal_interceptors(tracing),
    )
    async with AsyncExitStack() as stack:
        if tracing is not None:
            stack.callback(tracing.shutdown)  # last: the worker's final spans are exported
        await ensure_safety_net(client, settings)
        activities = booking_activities(settings, stack, client, tracing)
        worker = build_worker(client, settings, activities)

        async def ready() -> bool:
            return worker.is_running and not stopping.is_set() and await answers(client)

        await stack.enter_async_context(serving_health(settings.worker_health_address, ready))
        # Leaving this block shuts the worker down gracefully (build_worker's timeout); the
        # activities' clients, closed by `stack`, outlive it.
        async with worker:
            logging.info("worker polling task queue %r", settings.task_queue)
            await stopping.wait()
            logging.info(
                "stopping: no new tasks; running activities have %s s to finish",
                settings.worker_shutdown_grace_seconds,
            )
    logging.info("worker stopped")


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM (an orchestrator stopping us) or SIGINT (Ctrl-C)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stopping.set)
    return stopping


async def answers(client: Client) -> bool:
    """Whether Temporal answers this worker's client within a readiness probe's patience."""
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=2)
        )
    except RPCError:
        return False
    return True


if __name__ == "__main__":
    # uvloop: the event loop's own socket and scheduling work, a good part of the worker's CPU
    # (asyncpg, Stripe and Temporal's plumbing all run on it), costs less than asyncio's.
    uvloop.run(main())
