"""What the safety net finds and repairs: places nobody will release, money nobody will claim,
refunds made at Stripe that no booking workflow is left to record, and waiting lists whose
workflow stalled."""

from dataclasses import dataclass, field
from enum import StrEnum

from core.enums import BookingStatus
from messages.payments import RefundInfo


@dataclass
class WebhookSweep:
    """Pending webhook deliveries whose workflow may never have been woken: never tried and
    queued this long ago, or tried last this long ago (longer than any backoff wait)."""

    untried_seconds: float
    tried_seconds: float
    # One run wakes at most this many (endpoint, booking) streams, the longest waiting first.
    batch: int = 100


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
    # One run repairs at most this many holds, payments and emails each: the rest, next run.
    batch: int = 50
    # Each search gets this long an attempt (a few attempts): past it, the run goes on without.
    search_timeout_seconds: float = 120.0
    # A waiting-list offer still holding its places this long past its deadline has a stalled
    # list workflow: the run nudges it.
    offer_grace_seconds: int = 60


@dataclass
class OrphanHold:
    """Places held by a booking whose workflow has ended, or that is long past its hold."""

    booking_id: str
    status: BookingStatus
    workflow_open: bool


@dataclass
class UnclaimedPayment:
    """Succeeded money for a booking of ours that no confirmed booking holds and no live
    workflow will refund (a payment naming no booking of ours is never the safety net's)."""

    payment_intent_id: str
    booking_id: str
    amount: int  # what to refund: what no booking holds of it
    currency: str
    stripe_account_id: str | None = None  # the connected account it is in; None: the platform's
    # All that remains at Stripe (refunded in full, as before intents were shared); False: a
    # booking that was confirmed keeps a part of it (a split's other half), `amount` is the rest.
    in_full: bool = True


def refund_is_of(booking_id: str, named: str | None, opener: str | None) -> bool:
    """Whether a refund on an intent is the booking's. An intent may pay for several bookings
    (a partial move splits one): a refund is the booking's its metadata names (every refund
    the engine asks for names one); one made without ours (Stripe's dashboard) is the intent's
    opener's, the booking its own metadata names."""
    return (named or opener) == booking_id


class StallReason(StrEnum):
    """Why a session's waiting list is not moving on by itself."""

    OFFER_OVERDUE = "offer-overdue"  # an offer holds its places past its deadline
    NO_WORKFLOW = "no-workflow"  # places free while someone waits (or sales ended), none runs


@dataclass
class StalledList:
    """A session's waiting list its workflow will not move on: the safety net nudges it."""

    session_id: str
    reason: StallReason


@dataclass
class RepairReport:
    released: list[str] = field(default_factory=list)  # booking ids whose places went back
    # Found holding places, but CONFIRMED (or its places sold) by the time of the release.
    kept: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)  # PaymentIntent ids refunded
    webhook_deliveries_woken: int = 0  # (endpoint, booking) delivery workflows signalled
    emails_retried: list[str] = field(default_factory=list)  # notification keys sent again
    lists_nudged: list[str] = field(default_factory=list)  # sessions whose list was nudged
    # What could not be done this run, and why (a search, or one repair): the next run retries.
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class StripeRefundsInput:
    """Record on a booking the refunds Stripe holds for it that it does not (its workflow has
    ended); the workflow's id is derived from the booking's."""

    booking_id: str


@dataclass
class RefundsMade:
    """Stripe has refunds for the booking to read (a signed `charge.refunded`, or the safety
    net's own refund, named here so it is recorded as the safety net's)."""

    booking_id: str
    by_safety_net: list[str] = field(default_factory=list)  # Stripe refund ids


@dataclass
class BookingMoney:
    """What the database holds of a booking's money, for recording refunds after its end."""

    booking_id: str
    status: BookingStatus
    currency: str
    payment_intent_id: str | None
    confirmed: bool  # it was sold: its status follows its refunds
    has_receipt: bool  # each refund gets a credit note
    recorded: list[str]  # Stripe refund ids in booking_refunds
    last_sequence: int  # of its refunds (0: none)
    # The intents of its dearer moves' differences, paid (its money is over all its intents).
    moved_payments: list[str] = field(default_factory=list)
    # Its claims (booking_payments): its money, on intents other bookings may claim too.
    claims: list["ClaimedIntent"] = field(default_factory=list)
    paid: int = 0  # what it was paid (`bookings.amount_paid`: the sum of its claims)


@dataclass
class ClaimedIntent:
    """What a booking claims of one PaymentIntent, and whether it opened it (the intent's
    metadata names it; a split booking is handed parts of intents it did not open)."""

    payment_intent_id: str
    amount: int
    opened: bool

    def owns(self, booking_id: str, refund: RefundInfo) -> bool:
        """A refund of this intent is the booking's (`refund_is_of`)."""
        return refund_is_of(booking_id, refund.booking_id, booking_id if self.opened else None)
