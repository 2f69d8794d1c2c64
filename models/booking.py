"""Data passed between the API, the booking workflow and its activities: plain values only."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_PLACES_PER_BOOKING = 50


class BookingStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"


@dataclass
class Attendee:
    name: str
    email: str | None = None
    special_requirements: str | None = None


@dataclass
class BookingRequest:
    """The booking workflow's input: what the caller asked for, validated by the API."""

    booking_id: str
    session_id: str
    customer_name: str
    customer_email: str
    quantity: int
    seat_labels: list[str] = field(default_factory=list)
    attendees: list[Attendee] = field(default_factory=list)
    # Hash of the request body, so a reused Idempotency-Key with another body is refused.
    request_fingerprint: str = ""


@dataclass
class Reservation:
    """Places held for one booking, with the price fixed at the moment of holding."""

    booking_id: str
    session_id: str
    seat_labels: list[str]
    unit_amount: int
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    session_starts_at: datetime
    session_ends_at: datetime
    request_fingerprint: str


@dataclass
class PaymentIntentInfo:
    id: str
    status: str
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


@dataclass
class RefundRequest:
    booking_id: str
    payment_intent_id: str
    # Distinguishes refunds of one booking in the idempotency key (e.g. "cancel", "late").
    reason: str


@dataclass
class RefundInfo:
    id: str
    status: str
    amount: int
    currency: str


@dataclass
class PaymentEvent:
    """A verified Stripe event, as the webhook endpoint signals it to the booking workflow."""

    event_id: str
    type: str
    payment_intent_id: str
    created: int
    failure_message: str | None = None


@dataclass
class Transition:
    """One change of the booking's status, mirrored into the database."""

    booking_id: str
    status: BookingStatus
    status_reason: str | None = None
    payment_intent_id: str | None = None
    hold_expires_at: datetime | None = None


@dataclass
class Confirmation:
    booking_id: str
    reference: str
    confirmed_at: datetime


@dataclass
class BookingView:
    """What the workflow says about itself: returned by its query and its updates."""

    id: str
    status: BookingStatus
    session_id: str
    seat_labels: list[str]
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    payment_intent_id: str | None = None
    client_secret: str | None = None
    reference: str | None = None
    status_reason: str | None = None
    confirmed_at: datetime | None = None
    refund_ids: list[str] = field(default_factory=list)
    payment_failures: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    emails_refused: list[str] = field(default_factory=list)


@dataclass
class IssueDocument:
    """Number and render the booking's receipt, or the credit note for its refund."""

    booking_id: str
    kind: str  # "receipt" or "credit_note"
    card_brand: str | None = None
    card_last4: str | None = None


@dataclass
class DocumentRef:
    kind: str
    number: str


@dataclass
class EmailRequest:
    booking_id: str
    # One of documents.emails.KINDS; at most one email per (booking, kind).
    kind: str
    refund_amount: int | None = None


@dataclass
class EmailOutcome:
    key: str
    # "sent", "already-sent" (an earlier attempt got through) or "refused" (not retried).
    status: str
