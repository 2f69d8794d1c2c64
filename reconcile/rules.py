"""The rules of the consistency check, as pure functions over what was read.

Each returns the violations it sees; `reconcile.consistency.check` reads and calls them. One module
for the rules of I1 to I5, I7 and I8, so the whole definition of "consistent" reads in one
place; `Rule` names every kind of finding.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.enums import (
    OPEN_STATUSES,
    BookingStatus,
    DocumentKind,
    EmailKind,
    SeatState,
    SessionStatus,
)
from messages.payments import PaymentState
from reconcile.findings import CLAIMING, OrphanReason, find_orphan_holds, find_unclaimed_payments
from reconcile.ledger import Intent, Ledger
from reconcile.snapshot import BookingRow, EmailCount, Snapshot
from reconcile.workflow_states import WorkflowState


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
        ),
        Invariant.NO_OVERBOOKING,
    ),
    **dict.fromkeys(
        (
            Rule.UNCLAIMED_PAYMENT,
            Rule.OVER_REFUNDED,
            Rule.CONFIRMED_UNPAID,
            Rule.AMOUNT_MISMATCH,
            Rule.CONFIRMED_REFUNDED,
            Rule.REFUNDED_WITHOUT_REFUND,
            Rule.SESSION_CANCELLED_KEPT,
        ),
        Invariant.MONEY_BALANCES,
    ),
    Rule.ORPHAN_HOLD_OVERDUE: Invariant.HOLDS_END_ON_TIME,
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
}


@dataclass(frozen=True)
class Violation:
    invariant: Invariant
    subject: str  # a booking id, a session id or a PaymentIntent id (see `rule`)
    detail: str
    rule: Rule  # which check saw it


# ---- I1 and I3: places ----------------------------------------------------------------------


def places(
    snapshot: Snapshot, workflows: dict[str, WorkflowState], settle: timedelta, grace: timedelta
) -> list[Violation]:
    found = []
    for session in snapshot.sessions.values():
        if session.seat_rows != session.capacity:
            found.append(
                _found(
                    Rule.SEAT_ROWS,
                    session.id,
                    f"session has {session.seat_rows} place rows for a capacity of "
                    f"{session.capacity}",
                )
            )
        if session.held + session.sold > session.capacity:
            found.append(
                _found(
                    Rule.OVER_CAPACITY,
                    session.id,
                    f"{session.held} held + {session.sold} sold > capacity {session.capacity}",
                )
            )
    for hold in find_orphan_holds(snapshot, workflows, grace=grace, settle=settle):
        places = ", ".join([*(f"{s} held" for s in hold.held), *(f"{s} sold" for s in hold.sold)])
        if hold.reason == OrphanReason.HOLD_OVERDUE:
            detail = f"still holds {places}; its hold ended at {hold.hold_expires_at:%F %T%z}"
        elif hold.reason == OrphanReason.BOOKING_CLOSED:
            detail = f"is {hold.status} but still has {places}"
        else:
            detail = (
                f"is {hold.status}, its workflow is {_workflow_label(hold.workflow_status)}, "
                f"and it still has {places}"
            )
        found.append(_found(Rule(f"orphan-{hold.reason}"), hold.booking_id, detail))
    for booking in snapshot.bookings.values():
        if booking.at_rest(snapshot.now, settle):
            found += _owned_places(snapshot, booking)
    return found


def _owned_places(snapshot: Snapshot, booking: BookingRow) -> list[Violation]:
    """A CONFIRMED or COMPLETED booking owns exactly its places, sold; a pending one owns no
    sold place; every place is of the booking's session."""
    seats = snapshot.places_of(booking.id)
    found = [
        _found(Rule.WRONG_SESSION, booking.id, f"owns place {s.label} of session {s.session_id}")
        for s in seats
        if s.session_id != booking.session_id
    ]
    sold = sorted(s.label for s in seats if s.state == SeatState.SOLD)
    held = sorted(s.label for s in seats if s.state == SeatState.HELD)
    if booking.status in CLAIMING:
        if held or sold != sorted(booking.seat_labels) or len(sold) != booking.quantity:
            found.append(
                _found(
                    Rule.PLACES_MISMATCH,
                    booking.id,
                    f"is {booking.status} for {booking.quantity} place(s) "
                    f"{_labels(booking.seat_labels)} but owns sold {_labels(sold)}"
                    + (f" and held {_labels(held)}" if held else ""),
                )
            )
    elif sold and booking.status == BookingStatus.PENDING_PAYMENT:
        # (A closed booking's places are orphans, reported above.)
        found.append(
            _found(Rule.SOLD_UNPAID, booking.id, f"is {booking.status} but owns sold {sold}")
        )
    return found


# ---- I2: money --------------------------------------------------------------------------------


def money(
    snapshot: Snapshot,
    ledger: Ledger,
    workflows: dict[str, WorkflowState],
    candidates: list[Intent],
    bookings: list[BookingRow],
    scoped: bool,
) -> list[Violation]:
    found = []
    for payment in find_unclaimed_payments(snapshot, ledger, workflows, candidates):
        whose = (
            f"booking {payment.booking_id}, which is {payment.booking_status}"
            if payment.booking_status
            else f"booking {payment.booking_id or '(none)'}, unknown here"
        )
        found.append(
            _found(
                Rule.UNCLAIMED_PAYMENT,
                payment.payment_intent_id,
                f"succeeded for {payment.amount} {payment.currency} ({whose}), "
                f"refunded {payment.refunded}; no confirmed booking holds it",
            )
        )
    for booking in bookings:
        found += _booking_money(booking, ledger)
        found += _kept_from_cancelled_session(snapshot, booking)
    for intent in scoped_intents(snapshot, ledger, scoped):
        refunded = ledger.refunded.get(intent.id, 0)
        if refunded > max(intent.amount_received, intent.amount):
            found.append(
                _found(Rule.OVER_REFUNDED, intent.id, f"refunded {refunded} of {intent.amount}")
            )
    return found


def _booking_money(booking: BookingRow, ledger: Ledger) -> list[Violation]:
    if _free(booking):
        return []  # confirmed without Stripe, nothing to find there
    intent = ledger.intents.get(booking.payment_intent_id or "")
    refunded = ledger.refunded.get(booking.payment_intent_id or "", 0)
    paid = intent is not None and intent.status == PaymentState.PAID
    if booking.status in CLAIMING and not paid:
        state = intent.status if intent else "not found at Stripe"
        return [
            _found(
                Rule.CONFIRMED_UNPAID,
                booking.id,
                f"is {booking.status} but its payment {booking.payment_intent_id} is {state}",
            )
        ]
    if intent is not None and paid and _was_confirmed(booking):
        # Confirmed once, whatever happened since: what it says was paid is what Stripe got.
        if (intent.amount_received, intent.currency) != (booking.amount_paid, booking.currency):
            return [
                _found(
                    Rule.AMOUNT_MISMATCH,
                    booking.id,
                    f"is {booking.status}, paid {booking.amount_paid} {booking.currency}; "
                    f"{intent.id} received {intent.amount_received} {intent.currency}",
                )
            ]
        # Partly refunded bookings are claiming still; refunds must leave some of it.
        if booking.status in CLAIMING and refunded >= intent.amount_received:
            return [
                _found(
                    Rule.CONFIRMED_REFUNDED,
                    booking.id,
                    f"is {booking.status} but {intent.id} was refunded ({refunded})",
                )
            ]
    if booking.status == BookingStatus.REFUNDED and refunded == 0:
        return [
            _found(
                Rule.REFUNDED_WITHOUT_REFUND,
                booking.id,
                f"is REFUNDED but {booking.payment_intent_id} has no refund at Stripe",
            )
        ]
    return []


def _kept_from_cancelled_session(snapshot: Snapshot, booking: BookingRow) -> list[Violation]:
    """A session cancelled by its organiser refunds in full every booking that closed after
    the cancellation began, whatever its policy (those still open are the cancellation's, on
    its way); a booking its customer cancelled before keeps its policy's outcome."""
    session = snapshot.sessions.get(booking.session_id)
    if session is None or session.status != SessionStatus.CANCELLED:
        return []
    closed_at, cancelled_at = booking.closed_at, session.cancelled_at
    if closed_at is None or cancelled_at is None or closed_at < cancelled_at:
        return []
    if not _was_confirmed(booking):
        return []
    if booking.amount_refunded >= booking.amount_paid:
        return []
    return [
        _found(
            Rule.SESSION_CANCELLED_KEPT,
            booking.id,
            f"is {booking.status} in a cancelled session but refunded {booking.amount_refunded}"
            f" of {booking.amount_paid} {booking.currency}",
        )
    ]


# ---- I7: the books equal Stripe ---------------------------------------------------------------


def books(snapshot: Snapshot, ledger: Ledger, bookings: list[BookingRow]) -> list[Violation]:
    """Each booking's own money ledger: its refunds are Stripe's, one by one; its total is
    their sum; it never gives back more than was paid, nor prices its places above it."""
    found = []
    for booking in bookings:
        recorded = snapshot.refunds_of(booking.id)
        at_stripe = ledger.refunds_of(booking.payment_intent_id)
        here = {r.stripe_refund_id: r.amount for r in recorded}
        if here != at_stripe:
            found.append(
                _found(Rule.REFUNDS_DIFFER, booking.id, _refunds_differ(booking, here, at_stripe))
            )
        total = sum(here.values())
        if booking.amount_refunded != total:
            found.append(
                _found(
                    Rule.REFUNDED_TOTAL_DIFFERS,
                    booking.id,
                    f"says {booking.amount_refunded} refunded; its {len(here)} refund(s) "
                    f"add up to {total}",
                )
            )
        found += _within_paid(booking, _paid(booking, ledger))
    return found


def _within_paid(booking: BookingRow, paid: int) -> list[Violation]:
    found = []
    if booking.amount_refunded > paid:
        found.append(
            _found(
                Rule.REFUNDED_BEYOND_PAID,
                booking.id,
                f"refunded {booking.amount_refunded} of {paid} {booking.currency} paid: "
                f"{paid - booking.amount_refunded} remains",
            )
        )
    if booking.status in CLAIMING and booking.amount_total > booking.amount_paid:
        found.append(
            _found(
                Rule.TOTAL_ABOVE_PAID,
                booking.id,
                f"its places cost {booking.amount_total} {booking.currency}, "
                f"{booking.amount_paid} was paid: the customer would owe "
                f"{booking.amount_total - booking.amount_paid}",
            )
        )
    return found


def _paid(booking: BookingRow, ledger: Ledger) -> int:
    """What the booking was paid: its own figure once confirmed (or free), else what its
    PaymentIntent received (late money, refunded since)."""
    if _was_confirmed(booking) or _free(booking):
        return booking.amount_paid
    intent = ledger.intents.get(booking.payment_intent_id or "")
    return intent.amount_received if intent and intent.status == PaymentState.PAID else 0


def _refunds_differ(booking: BookingRow, here: dict[str, int], at_stripe: dict[str, int]) -> str:
    parts = []
    if missing := sorted(at_stripe.keys() - here.keys()):
        parts.append("not recorded here: " + _amounts(missing, at_stripe))
    if unknown := sorted(here.keys() - at_stripe.keys()):
        parts.append("not at Stripe: " + _amounts(unknown, here))
    if changed := sorted(i for i in here.keys() & at_stripe.keys() if here[i] != at_stripe[i]):
        parts.append(
            "amounts differ: " + ", ".join(f"{i} {here[i]} here, {at_stripe[i]}" for i in changed)
        )
    intent = booking.payment_intent_id or "(no PaymentIntent)"
    return f"its refunds and {intent}'s at Stripe differ; " + "; ".join(parts)


# ---- I4 and I8: receipts, credit notes and emails -------------------------------------------


def documents(
    snapshot: Snapshot,
    workflows: dict[str, WorkflowState],
    bookings: list[BookingRow],
    email_bound: timedelta,
) -> list[Violation]:
    found = []
    for booking in bookings:
        found += _documents_of(snapshot, booking)
    judged = {b.id for b in bookings}
    sending_before = snapshot.now - email_bound
    for email in snapshot.emails:
        if email.booking_id in judged:
            found += _email(email, workflows.get(email.booking_id), sending_before)
    return found


def _documents_of(snapshot: Snapshot, booking: BookingRow) -> list[Violation]:
    """One receipt for a booking that was confirmed (none for others), and a credit note for
    each refund it records once it has its receipt."""
    receipts = snapshot.documents.get((booking.id, DocumentKind.RECEIPT), 0)
    if _was_confirmed(booking):
        if receipts != 1:
            return [
                _found(
                    Rule.RECEIPT_COUNT,
                    booking.id,
                    f"is {booking.status} with {receipts} receipts",
                )
            ]
    elif receipts:
        return [
            _found(
                Rule.RECEIPT_UNCONFIRMED,
                booking.id,
                f"was never confirmed ({booking.status}) but has {receipts} receipt(s)",
            )
        ]
    noted = snapshot.credit_notes.get(booking.id, set())
    missing = [str(r.sequence) for r in snapshot.refunds_of(booking.id) if r.sequence not in noted]
    if receipts and missing:
        return [
            _found(
                Rule.CREDIT_NOTE_MISSING,
                booking.id,
                f"has no credit note for its refund(s) number {_labels(missing)}",
            )
        ]
    return []


def _email(
    email: EmailCount, workflow: WorkflowState | None, sending_before: datetime
) -> list[Violation]:
    found = []
    # One email per kind, but one per refund for partial refunds (keyed by its sequence).
    if email.rows > 1 and email.kind != EmailKind.PARTLY_REFUNDED:
        found.append(
            _found(Rule.EMAIL_TWICE, email.booking_id, f"{email.rows} '{email.kind}' email rows")
        )
    if email.sending:
        ended = workflow is not None and not workflow.running
        if ended or (email.sending_since is not None and email.sending_since < sending_before):
            since = f"{email.sending_since:%F %T%z}" if email.sending_since else "?"
            whose = f"its workflow is {workflow.label}" if workflow else "no workflow was read"
            found.append(
                _found(
                    Rule.EMAIL_STUCK,
                    email.booking_id,
                    f"'{email.kind}' email sending since {since}; {whose}",
                )
            )
    if email.failed:
        found.append(
            _found(
                Rule.EMAIL_FAILED,
                email.booking_id,
                f"{email.failed} '{email.kind}' email(s) failed at their retry bound",
            )
        )
    return found


# ---- I5: the mirror -------------------------------------------------------------------------


def mirror(bookings: list[BookingRow], workflows: dict[str, WorkflowState]) -> list[Violation]:
    found = []
    for booking in bookings:
        workflow = workflows.get(booking.id)
        if workflow is None:
            continue
        if workflow.running and workflow.booking_status != booking.status:
            told = workflow.booking_status or "nothing yet"
            found.append(
                _found(
                    Rule.MIRROR_DIFFERS,
                    booking.id,
                    f"the database says {booking.status}, the workflow ({workflow.told_by}) "
                    f"says {told}",
                )
            )
        elif not workflow.running and booking.status in OPEN_STATUSES:
            found.append(
                _found(
                    Rule.OPEN_WITHOUT_WORKFLOW,
                    booking.id,
                    f"the database says {booking.status} but its workflow is {workflow.label}",
                )
            )
    return found


# ---- helpers ----------------------------------------------------------------------------------


def scoped_intents(snapshot: Snapshot, ledger: Ledger, scoped: bool) -> list[Intent]:
    if not scoped:
        return list(ledger.intents.values())
    return [i for i in ledger.intents.values() if (i.booking_id or "") in snapshot.bookings]


def _free(booking: BookingRow) -> bool:
    return booking.payment_intent_id is None and booking.amount_total == 0


def _was_confirmed(booking: BookingRow) -> bool:
    """Claims its places and money now, or did once (then refunded or cancelled)."""
    return booking.status in CLAIMING or booking.confirmed_at is not None


def _workflow_label(status: object) -> str:
    name = getattr(status, "name", None)
    return name if isinstance(name, str) else "NOT_FOUND"


def _labels(labels: Sequence[str]) -> str:
    return "[" + ", ".join(labels) + "]"


def _amounts(ids: list[str], amounts: dict[str, int]) -> str:
    return ", ".join(f"{i} ({amounts[i]})" for i in ids)


def _found(rule: Rule, subject: str, detail: str) -> Violation:
    return Violation(rule.invariant, subject, detail, rule)
