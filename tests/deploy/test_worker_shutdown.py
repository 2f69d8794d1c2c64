"""A worker process stopped by SIGTERM in the middle of a booking lets its running activity
finish, stops taking work, exits 0 within its grace period; the next worker completes the
booking with nothing lost or doubled. Its health checks say so along the way. An activity still
running when the grace period ends is cancelled and handed back: the next worker runs it."""

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from clients.booking_workflows import cancel_booking_workflow
from core.enums import BookingStatus, DocumentKind
from core.settings import Settings
from devstack.fault_proxy import FaultProxy, Faults
from messages.booking import CancelRequest
from tests.conftest import SessionFactory
from tests.fakes.sendgrid_server import MAIL_SEND_PATH, FakeSendGrid
from tests.helpers.emails import emails_at_rest
from tests.helpers.polling import eventually
from tests.helpers.worker_process import WorkerProcess
from tests.helpers.workflow_bookings import (
    Db,
    assert_books_match_stripe,
    assert_consistent,
    book,
    documents_of,
    handle_of,
    pay_and_tell,
    refunds_of,
)

GRACE_SECONDS = 10
SHORT_GRACE_SECONDS = 1
HANDED_BACK = "list_refunds"  # a cancel's first Stripe step (a regular activity)
HELD_SECONDS = 2  # how long (slow) SendGrid holds the confirmation email
CREATE_INTENT = "POST /v1/payment_intents"


@dataclass(frozen=True)
class Proxies:
    stripe: FaultProxy
    sendgrid: FaultProxy


@pytest.fixture
async def proxies(localstripe_url: str, sendgrid: FakeSendGrid) -> AsyncIterator[Proxies]:
    """Stripe and SendGrid as the workers reach them: through proxies that count each request
    and whose delay the test turns on and off."""
    stripe_proxy, sendgrid_proxy = FaultProxy(localstripe_url), FaultProxy(sendgrid.url)
    await stripe_proxy.start()
    await sendgrid_proxy.start()
    yield Proxies(stripe_proxy, sendgrid_proxy)
    await stripe_proxy.close()
    await sendgrid_proxy.close()


async def test_sigterm_mid_booking_hands_over_to_the_next_worker_and_loses_nothing(
    settings: Settings,
    temporal: Client,
    stripe_client: stripe.StripeClient,
    db: Db,
    sendgrid: FakeSendGrid,
    new_session: SessionFactory,
    proxies: Proxies,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    own = settings.model_copy(
        update={
            "task_queue": f"shutdown-{uuid.uuid4()}",
            "stripe_api_base": proxies.stripe.url,
            "sendgrid_host": proxies.sendgrid.url,
            "worker_shutdown_grace_seconds": GRACE_SECONDS,
        }
    )
    first = WorkerProcess(own, tmp_path / "worker-1.log")
    workers.append(first)
    await first.ready()
    assert await first.status("healthz") == 200

    # Paid and confirmed on the first worker; its confirmation email is held in flight.
    view = await book(temporal, own, await new_session())
    proxies.sendgrid.faults = Faults(delay_seconds=HELD_SECONDS)
    confirmed = await pay_and_tell(temporal, stripe_client, view)
    await eventually(lambda: _seen(proxies.sendgrid, MAIL_SEND_PATH), within=10, what="an email")
    signalled_at = datetime.now(UTC)
    sent = first.send(signal.SIGTERM)
    # Stopping, it is no longer ready (while still alive) and takes no new task.
    await eventually(lambda: first.status("readyz"), lambda s: s == 503, within=GRACE_SECONDS)
    assert await first.exited(within=GRACE_SECONDS + 5) == 0
    assert time.monotonic() - sent < GRACE_SECONDS
    proxies.sendgrid.faults = Faults()

    second = WorkerProcess(own, tmp_path / "worker-2.log")
    workers.append(second)
    await second.ready()
    assert await emails_at_rest(sendgrid, temporal, view.id) == ["confirmation"]

    # The email in flight at SIGTERM was sent once, to its end, by the first worker; the
    # second worker took the booking on from there.
    events = (await handle_of(temporal, view.id).fetch_history()).events
    started, completed = _activity(events, "send_email")
    assert started.event_time.ToDatetime(UTC) < signalled_at
    assert started.activity_task_started_event_attributes.attempt == 1
    assert started.activity_task_started_event_attributes.identity == first.identity
    assert completed.activity_task_completed_event_attributes.identity == first.identity
    later = [e for e in events if e.event_id > completed.event_id]
    assert {_worker_of(e) for e in later} - {None} == {second.identity}

    # Nothing lost or doubled: one PaymentIntent, one receipt, one email, places sold once.
    assert proxies.stripe.paths[CREATE_INTENT] == 1
    assert proxies.sendgrid.paths[f"POST {MAIL_SEND_PATH}"] == 1
    assert confirmed.status == BookingStatus.CONFIRMED
    assert list(await documents_of(db, view.id)) == [DocumentKind.RECEIPT]
    await assert_consistent(db, confirmed)


async def test_ctrl_c_past_the_grace_hands_a_running_step_to_the_next_worker(
    settings: Settings,
    temporal: Client,
    stripe_client: stripe.StripeClient,
    db: Db,
    sendgrid: FakeSendGrid,
    new_session: SessionFactory,
    proxies: Proxies,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    own = settings.model_copy(
        update={
            "task_queue": f"shutdown-{uuid.uuid4()}",
            "stripe_api_base": proxies.stripe.url,
            "worker_shutdown_grace_seconds": SHORT_GRACE_SECONDS,
        }
    )
    first = WorkerProcess(own, tmp_path / "worker-1.log")
    workers.append(first)
    await first.ready()
    view = await book(temporal, own, await new_session())
    await pay_and_tell(temporal, stripe_client, view)

    # The cancel's first Stripe step (reading the refunds already made) hangs far past the
    # grace period.
    proxies.stripe.faults = Faults(delay_seconds=60)
    cancel = cancel_booking_workflow(temporal, view.id, CancelRequest("ill"), view.status)
    cancelling = asyncio.create_task(cancel)
    await eventually(
        lambda: _held_on(temporal, view.id, proxies.stripe, HANDED_BACK),
        lambda running: running == first.identity,
        within=30,
        what=f"{HANDED_BACK} running on the first worker, its Stripe request held",
    )
    sent = first.send(signal.SIGINT)
    assert await first.exited(within=GRACE_SECONDS + 5) == 0
    assert time.monotonic() - sent < GRACE_SECONDS  # cut at the grace, not after Stripe's 60 s
    proxies.stripe.faults = Faults()

    second = WorkerProcess(own, tmp_path / "worker-2.log")
    workers.append(second)
    await second.ready()
    refunded = await asyncio.wait_for(cancelling, 60)
    assert refunded.status == BookingStatus.REFUNDED

    # The cancelled attempt was handed back: the step's next attempt, and the refund after it,
    # ran on the second worker.
    events = (await handle_of(temporal, view.id).fetch_history()).events
    started, completed = _activity(events, HANDED_BACK)
    attempt = started.activity_task_started_event_attributes
    assert (attempt.attempt, attempt.identity) == (2, second.identity)
    assert attempt.last_failure.application_failure_info.type == "WorkerShutdown"
    assert completed.activity_task_completed_event_attributes.identity == second.identity
    refund, _ = _activity(events, "refund_payment")
    assert refund.activity_task_started_event_attributes.identity == second.identity

    # Refunded once, at Stripe and in the books; the held request never reached Stripe.
    assert len(await refunds_of(stripe_client, view)) == 1
    assert await assert_books_match_stripe(stripe_client, db, view.id) == 0
    assert await emails_at_rest(sendgrid, temporal, view.id) == ["confirmation", "refunded"]
    await assert_consistent(db, refunded)


async def _held_on(
    temporal: Client, booking_id: str, stripe_proxy: FaultProxy, activity_name: str
) -> str | None:
    """The worker running the booking's first attempt of `activity_name`, once a Stripe
    request is held at the proxy."""
    described = await handle_of(temporal, booking_id).describe()
    held = stripe_proxy.counts["requests"] > stripe_proxy.counts["forwarded"]
    for pending in described.raw_description.pending_activities:
        if pending.activity_type.name == activity_name and pending.attempt == 1 and held:
            return str(pending.last_worker_identity) or None
    return None


async def _seen(proxy: FaultProxy, path: str) -> bool:
    return proxy.paths[f"POST {path}"] > 0


def _activity(events: Sequence[HistoryEvent], name: str) -> tuple[HistoryEvent, HistoryEvent]:
    """The started and completed events of the one run of activity `name`."""
    (scheduled,) = [
        e.event_id
        for e in events
        if e.activity_task_scheduled_event_attributes.activity_type.name == name
    ]

    def of(kind: str) -> HistoryEvent:
        (event,) = [
            e
            for e in events
            if e.WhichOneof("attributes") == kind
            and getattr(e, kind).scheduled_event_id == scheduled
        ]
        return event

    return of("activity_task_started_event_attributes"), of(
        "activity_task_completed_event_attributes"
    )


def _worker_of(event: HistoryEvent) -> str | None:
    """Which worker a task event names, if it names one."""
    for kind in (
        "workflow_task_started_event_attributes",
        "activity_task_started_event_attributes",
    ):
        if event.WhichOneof("attributes") == kind:
            return str(getattr(event, kind).identity)
    return None
