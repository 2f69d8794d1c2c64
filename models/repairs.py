"""What the safety net finds and repairs: places nobody will release, money nobody will claim."""

from dataclasses import dataclass, field

from models.enums import BookingStatus


@dataclass
class WebhookSweep:
    """Pending webhook deliveries whose workflow may never have been woken: never tried and
    queued this long ago, or tried last this long ago (longer than any backoff wait)."""

    untried_seconds: float
    tried_seconds: float


@dataclass
class SafetyNetInput:
    # A pending booking this long past its hold's end has a stuck or dead workflow.
    hold_grace_seconds: int
    # How far back to look for succeeded payments (Stripe retries webhooks for 3 days).
    payment_window_seconds: int
    # A booking changed more recently than this may have a transition on its way: left alone.
    settle_seconds: float = 5.0
    # Schedules made before webhooks out carry none: their runs wake no delivery.
    webhook_sweep: WebhookSweep | None = None


@dataclass
class OrphanHold:
    """Places held by a booking whose workflow has ended, or that is long past its hold."""

    booking_id: str
    status: BookingStatus
    workflow_open: bool


@dataclass
class UnclaimedPayment:
    """Succeeded money that no confirmed booking holds and no live workflow will refund."""

    payment_intent_id: str
    booking_id: str | None  # None: the intent names no booking we know
    amount: int
    currency: str


@dataclass
class RepairReport:
    released: list[str] = field(default_factory=list)  # booking ids whose places went back
    refunded: list[str] = field(default_factory=list)  # PaymentIntent ids refunded
    webhook_deliveries_woken: int = 0  # (endpoint, booking) delivery workflows signalled
