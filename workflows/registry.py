"""Which workflows the booking worker runs, and how: sandboxed or bare.

Not workflow code (no workflow imports it): the worker entry point (worker.py), the benchmark's
baseline worker and the tests build their workers here, so all run the workflows alike.
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.settings import Settings
from workflows.booking import BookingWorkflow
from workflows.certificate import CertificateWorkflow
from workflows.safety_net import SafetyNetWorkflow
from workflows.session_cancellation import SessionCancellationWorkflow
from workflows.session_change import SessionChangeWorkflow
from workflows.stripe_refunds import StripeRefundsWorkflow
from workflows.waiting_list import WaitingListWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

# Every workflow the booking worker runs (and so every type a live patch may be in).
WORKFLOWS: tuple[type, ...] = (
    BookingWorkflow,
    CertificateWorkflow,
    SafetyNetWorkflow,
    SessionCancellationWorkflow,
    SessionChangeWorkflow,
    StripeRefundsWorkflow,
    WaitingListWorkflow,
    WebhookDeliveryWorkflow,
)


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    """The booking worker; the benchmark's baseline worker is built here too, to match it."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows,
        activities=activities,
        workflow_runner=workflow_runner(settings),
        # Bookings idle for minutes between events: an evicted one is replayed when it wakes.
        max_cached_workflows=settings.worker_max_cached_workflows,
        # On shutdown, running activities get this long to finish before they are cancelled
        # (and retried on another worker): a Stripe or SendGrid call is not cut mid-way.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """The sandbox when `settings.worker_sandbox` (tests, replays), else workflows run bare."""
    if not settings.worker_sandbox:
        return UnsandboxedWorkflowRunner()
    # The sandbox still isolates each workflow's state and catches non-determinism; passing
    # modules through spares re-importing them for every new workflow.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    )
