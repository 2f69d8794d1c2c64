"""The words of the consistency check: the invariants, the kinds of finding, a violation, and
the small helpers every rule module shares."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconcile.findings import OrphanReason
from reconcile.ledger import Ledger
from reconcile.snapshot import CLAIMING, BookingRow


class Invariant(StrEnum):
    """The invariants the engine keeps (docs/reliability.md); the value is its number."""

    NO_OVERBOOKING = "I1"
    MONEY_BALANCES = "I2"
    HOLDS_END_ON_TIME = "I3"
    ONE_RECEIPT_ONE_EMAIL = "I4"
    # I5 (duplicate and out-of-order events are harmless) is seen at rest as the mirror
    # telling what the workflow tells.
    MIRROR_MATCHES_WORKFLOW = "I5"
    BOOKS_EQUAL_STRIPE = "I7"
    EVERY_STEP_ENDS = "I8"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    Invariant.NO_OVERBOOKING: "no overbooking",
    Invariant.MONEY_BALANCES: "money balances",
    Invariant.HOLDS_END_ON_TIME: "holds end on time",
    Invariant.ONE_RECEIPT_ONE_EMAIL: "one receipt, one email per kind",
    Invariant.MIRROR_MATCHES_WORKFLOW: "the mirror matches the workflow",
    Invariant.BOOKS_EQUAL_STRIPE: "the books equal Stripe",
    Invariant.EVERY_STEP_ENDS: "every step ends",
}


class Rule(StrEnum):
    """Each kind of finding; the value is stable, for scripts and tests. RELIABILITY.md says
    what each one checks."""

    SEAT_ROWS = "seat-rows"
    OVER_CAPACITY = "over-capacity"
    ORPHAN_WORKFLOW_CLOSED = f"orphan-{OrphanReason.WORKFLOW_CLOSED}"
    ORPHAN_BOOKING_CLOSED = f"orphan-{OrphanReason.BOOKING_CLOSED}"
    ORPHAN_HOLD_OVERDUE = f"orphan-{OrphanReason.HOLD_OVERDUE}"
    WRONG_SESSION = "wrong-session"
    PLACES_MISMATCH = "places-mismatch"
    SOLD_UNPAID = "sold-unpaid"
    UNCLAIMED_PAYMENT = "unclaimed-payment"
    OVER_REFUNDED = "over-refunded"
    CONFIRMED_UNPAID = "confirmed-unpaid"
    AMOUNT_MISMATCH = "amount-mismatch"
    CLAIMS_DIFFER = "claims-differ"
    CONFIRMED_REFUNDED = "confirmed-refunded"
    REFUNDED_WITHOUT_REFUND = "refunded-without-refund"
    SESSION_CANCELLED_KEPT = "session-cancelled-kept"
    RECEIPT_COUNT = "receipt-count"
    RECEIPT_UNCONFIRMED = "receipt-unconfirmed"
    CREDIT_NOTE_MISSING = "credit-note-missing"
    EMAIL_TWICE = "email-twice"
    EMAIL_STUCK = "email-stuck"
    MIRROR_DIFFERS = "mirror-differs"
    OPEN_WITHOUT_WORKFLOW = "open-without-workflow"
    REFUNDS_DIFFER = "refunds-differ"
    REFUNDED_TOTAL_DIFFERS = "refunded-total-differs"
    REFUNDED_BEYOND_PAID = "refunded-beyond-paid"
    TOTAL_ABOVE_PAID = "total-above-paid"
    EMAIL_FAILED = "email-failed"
    OFFER_ORPHAN = "offer-orphan"
    OFFER_SESSION_ENDED = "offer-session-ended"
    OFFER_OVERDUE = "offer-overdue"
    ACCEPTED_WITHOUT_BOOKING = "accepted-without-booking"

    @property
    def invariant(self) -> Invariant:
        return _INVARIANT_OF[self]


_INVARIANT_OF = {
    **dict.fromkeys(
        (
            Rule.SEAT_ROWS,
            Rule.OVER_CAPACITY,
            Rule.ORPHAN_WORKFLOW_CLOSED,
            Rule.ORPHAN_BOOKING_CLOSED,
            Rule.WRONG_SESSION,
            Rule.PLACES_MISMATCH,
            Rule.SOLD_UNPAID,
            Rule.OFFER_ORPHAN,
            Rule.OFFER_SESSION_ENDED,
        ),
        Invariant.NO_OVERBOOKING,
    ),
    **dict.fromkeys(
        (
            Rule.UNCLAIMED_PAYMENT,
            Rule.OVER_REFUNDED,
            Rule.CONFIRMED_UNPAID,
            Rule.AMOUNT_MISMATCH,
            Rule.CLAIMS_DIFFER,
            Rule.CONFIRMED_REFUNDED,
            Rule.REFUNDED_WITHOUT_REFUND,
            Rule.SESSION_CANCELLED_KEPT,
        ),
        Invariant.MONEY_BALANCES,
    ),
    Rule.ORPHAN_HOLD_OVERDUE: Invariant.HOLDS_END_ON_TIME,
    Rule.OFFER_OVERDUE: Invariant.HOLDS_END_ON_TIME,
    **dict.fromkeys(
        (
            Rule.RECEIPT_COUNT,
            Rule.RECEIPT_UNCONFIRMED,
            Rule.CREDIT_NOTE_MISSING,
            Rule.EMAIL_TWICE,
            Rule.EMAIL_STUCK,
        ),
        Invariant.ONE_RECEIPT_ONE_EMAIL,
    ),
    Rule.MIRROR_DIFFERS: Invariant.MIRROR_MATCHES_WORKFLOW,
    Rule.OPEN_WITHOUT_WORKFLOW: Invariant.MIRROR_MATCHES_WORKFLOW,
    **dict.fromkeys(
        (
            Rule.REFUNDS_DIFFER,
            Rule.REFUNDED_TOTAL_DIFFERS,
            Rule.REFUNDED_BEYOND_PAID,
            Rule.TOTAL_ABOVE_PAID,
        ),
        Invariant.BOOKS_EQUAL_STRIPE,
    ),
    Rule.EMAIL_FAILED: Invariant.EVERY_STEP_ENDS,
    Rule.ACCEPTED_WITHOUT_BOOKING: Invariant.EVERY_STEP_ENDS,
}


@dataclass(frozen=True)
class Violation:
    invariant: Invariant
    subject: str  # a booking id, a session id or a PaymentIntent id (see `rule`)
    detail: str
    rule: Rule  # which check saw it


def is_free(booking: BookingRow) -> bool:
    """Confirmed without Stripe: no claim on any intent, nothing paid (a split booking has
    no intent of its own, but claims)."""
    return not booking.claims and booking.amount_paid == 0


def was_confirmed(booking: BookingRow) -> bool:
    """Claims its places and money now, or did once (then refunded or cancelled)."""
    return booking.status in CLAIMING or booking.confirmed_at is not None


def refunds_at_stripe(booking: BookingRow, ledger: Ledger) -> dict[str, int]:
    """Its refunds at Stripe, {refund id: amount}: on each intent it claims, those that are its
    (messages.repairs.refund_is_of)."""
    return {
        refund_id: amount
        for intent_id in booking.claimed_intents
        for refund_id, amount in ledger.refunds_for(intent_id, booking.id).items()
    }


def labels(names: Sequence[str]) -> str:
    return "[" + ", ".join(names) + "]"


def violation(rule: Rule, subject: str, detail: str) -> Violation:
    return Violation(rule.invariant, subject, detail, rule)
