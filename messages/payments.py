"""The booking's own words for its payment, and the one place Stripe's words (and objects) are
translated.

The workflow reads only `PaymentState` and `PaymentEventType`. Histories recorded before these
enums existed carry Stripe's words; `_missing_` reads those, so old histories still replay.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import stripe


class PaymentState(StrEnum):
    AWAITING = "awaiting"  # nobody has paid (yet); the customer may still try
    PROCESSING = "processing"  # the bank has not decided; wait before giving the places up
    PAID = "paid"
    VOID = "void"  # cancelled: it can never be paid

    @classmethod
    def from_stripe(cls, status: str) -> "PaymentState":
        """Stripe's `PaymentIntent.status`; statuses Stripe may add later count as awaiting."""
        return _STRIPE_INTENT_STATUSES.get(status, cls.AWAITING)

    @classmethod
    def _missing_(cls, value: object) -> "PaymentState | None":
        return _STRIPE_INTENT_STATUSES.get(value) if isinstance(value, str) else None


class PaymentEventType(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PROCESSING = "processing"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # refunded outside the booking, e.g. in Stripe's dashboard

    @classmethod
    def from_stripe(cls, event_type: str) -> "PaymentEventType | None":
        """The event's meaning for a booking; None for the types a booking does not follow."""
        return _STRIPE_EVENT_TYPES.get(event_type)

    @classmethod
    def _missing_(cls, value: object) -> "PaymentEventType | None":
        return _STRIPE_EVENT_TYPES.get(value) if isinstance(value, str) else None


_STRIPE_INTENT_STATUSES = {
    "requires_payment_method": PaymentState.AWAITING,
    "requires_confirmation": PaymentState.AWAITING,
    "requires_action": PaymentState.AWAITING,
    "requires_capture": PaymentState.AWAITING,
    "processing": PaymentState.PROCESSING,
    "succeeded": PaymentState.PAID,
    "canceled": PaymentState.VOID,
}
_STRIPE_EVENT_TYPES = {
    "payment_intent.succeeded": PaymentEventType.SUCCEEDED,
    "payment_intent.payment_failed": PaymentEventType.FAILED,
    "payment_intent.processing": PaymentEventType.PROCESSING,
    "payment_intent.canceled": PaymentEventType.CANCELLED,
    "charge.refunded": PaymentEventType.REFUNDED,
}


def amount_received(intent: Any) -> int:
    """Stripe reports `amount_received`; localstripe omits it, so read the captured charge."""
    received = getattr(intent, "amount_received", None)
    if received is not None:
        return int(received)
    charge = getattr(intent, "latest_charge", None)
    if isinstance(charge, stripe.StripeObject) and getattr(charge, "status", "") == "succeeded":
        return int(charge["amount"]) if getattr(charge, "captured", True) else 0
    return 0


@dataclass
class PaymentIntentInfo:
    id: str
    status: PaymentState
    amount: int
    amount_received: int
    currency: str
    client_secret: str = ""
    card_brand: str | None = None
    card_last4: str | None = None


@dataclass
class CreatePaymentIntent:
    booking_id: str
    amount: int
    currency: str
    customer_email: str
    # The difference of the booking's `move_number`-th move (None: the booking's own payment).
    move_number: int | None = None


@dataclass
class RefundRequest:
    booking_id: str
    payment_intent_id: str
    # Distinguishes refunds of one booking in the idempotency key: the RefundSource's value.
    reason: str
    # An amount and its place among the booking's refunds, or None: in full, keyed by `reason`
    # alone (late money and unsellable payments; the safety net's late money has the same key).
    amount: int | None = None
    sequence: int | None = None
    # The Stripe account the intent is in, when its booking's row may not say (the safety
    # net's late money, found in an account's listing); None: the one the booking's row records.
    stripe_account_id: str | None = None


@dataclass
class RefundInfo:
    id: str
    status: str  # Stripe's word, read only by `counts`
    amount: int
    currency: str
    created: int = 0  # epoch seconds
    # The booking its metadata names (None: made without ours, e.g. in Stripe's dashboard).
    booking_id: str | None = None

    @property
    def counts(self) -> bool:
        """The money is back with the customer or on its way (not failed nor cancelled)."""
        return self.status in _STRIPE_REFUND_STATUSES_THAT_COUNT


@dataclass
class PaymentEvent:
    """A verified Stripe event, as the webhook endpoint signals it to the booking workflow."""

    event_id: str
    type: PaymentEventType
    payment_intent_id: str
    created: int
    failure_message: str | None = None


# Stripe's `Refund.status` values under which a refund stands.
_STRIPE_REFUND_STATUSES_THAT_COUNT = frozenset({"pending", "succeeded"})
