"""Data the webhook delivery workflow and its activities exchange: plain values only."""

from dataclasses import dataclass

from core.settings import Settings


def delivery_workflow_id(endpoint_id: str, stream_id: str) -> str:
    """One workflow per (endpoint, booking): it sends that booking's events in order."""
    return f"webhook-delivery-{endpoint_id}-{stream_id}"


DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
NUDGE_SIGNAL = "nudge"


@dataclass
class RetryTimings:
    """How one delivery is retried; from settings, so tests can shorten the three days."""

    first_seconds: float
    max_interval_seconds: float
    window_seconds: float
    timeout_seconds: float


def retry_timings(settings: Settings) -> RetryTimings:
    return RetryTimings(
        first_seconds=settings.webhook_retry_first_seconds,
        max_interval_seconds=settings.webhook_retry_max_interval_seconds,
        window_seconds=settings.webhook_retry_window_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


# Deliveries per run before continuing as new, so a long backlog keeps each history small.
DELIVERIES_PER_RUN = 200


@dataclass
class DeliveryStream:
    """The delivery workflow's input: whose events, to where, retried how."""

    endpoint_id: str
    stream_id: str
    retry: RetryTimings
    deliveries_per_run: int = DELIVERIES_PER_RUN


@dataclass
class PendingDelivery:
    delivery_id: str
    event_id: str
    sequence: int
