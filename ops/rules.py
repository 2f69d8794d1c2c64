"""The rules of the consistency check, as pure functions over what was read.

Each returns the violations it sees; `ops.consistency.check` reads and calls them. One module
for the rules of I1 to I5, so the whole definition of "consistent" reads in one place.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from models.enums import OPEN_STATUSES, BookingStatus, DocumentKind, EmailKind, SeatState
from models.payments import PaymentState
from ops.findings import CLAIMING, OrphanReason, find_orphan_holds, find_unclaimed_payments
from ops.ledger import Intent, Ledger
from ops.snapshot import BookingRow, Snapshot
from ops.workflow_states import WorkflowState


class Invariant(StrEnum):
    """BRIEF section 3; the value is the invariant's number."""

    NO_OVERBOOKING = "I1"
    MONEY_BALANCES = "I2"
    HOLDS_END_ON_TIME = "I3"
    ONE_RECEIPT_ONE_EMAIL = "I4"
    # I5 (duplicate and out-of-order events are harmless) is seen at rest as the mirror
    # telling what the workflow tells.
    MIRROR_MATCHES_WORKFLOW = "I5"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    Invariant.NO_OVERBOOKING: "no overbooking",
    Invariant.MONEY_BALANCES: "money balances",
    Invariant.HOLDS_END_ON_TIME: "holds end on time",
    Invariant.ONE_RECEIPT_ONE_EMAIL: "one receipt, one email per kind",
    Invariant.MIRROR_MATCHES_WORKFLOW: "the mirror matches the workflow",
}


@dataclass(frozen=True)
class Violation:
    invariant: Invariant
    subject: str  # a booking id, a session id or a PaymentIntent id (see `rule`)
    detail: str
    rule: str  # which check saw it, e.g. "orphan-workflow-closed" (stable, for scripts and tests)


# ---- I1 and I3: places ----------------------------------------------------------------------


def places(
    snapshot: Snapshot, workflows: dict[str, WorkflowState], settle: timedelta, grace: timedelta
) -> list[Violation]:
    found = []
    for session in snapshot.sessions.values():
        if session.seat_rows != session.capacity:
            found.append(
                _i1(
                    session.id,
                    "seat-rows",
                    f"session has {session.seat_rows} place rows for a capacity of "
                    f"{session.capacity}",
                )
            )
        if session.held + session.sold > session.capacity:
            found.append(
                _i1(
                    session.id,
                    "over-capacity",
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
        invariant = (
            Invariant.HOLDS_END_ON_TIME
            if hold.reason == OrphanReason.HOLD_OVERDUE
            else Invariant.NO_OVERBOOKING
        )
        found.append(Violation(invariant, hold.booking_id, detail, f"orphan-{hold.reason}"))
    for booking in snapshot.bookings.values():
        if booking.at_rest(snapshot.now, settle):
            found += _owned_places(snapshot, booking)
    return found


def _owned_places(snapshot: Snapshot, booking: BookingRow) -> list[Violation]:
    """A CONFIRMED or COMPLETED booking owns exactly its places, sold; a pending one owns no
    sold place; every place is of the booking's session."""
    seats = snapshot.places_of(booking.id)
    found = [
        _i1(booking.id, "wrong-session", f"owns place {s.label} of session {s.session_id}")
        for s in seats
        if s.session_id != booking.session_id
    ]
    sold = sorted(s.label for s in seats if s.state == SeatState.SOLD)
    held = sorted(s.label for s in seats if s.state == SeatState.HELD)
    if booking.status in CLAIMING:
        if held or sold != sorted(booking.seat_labels) or len(sold) != booking.quantity:
            found.append(
                _i1(
                    booking.id,
                    "places-mismatch",
                    f"is {booking.status} for {booking.quantity} place(s) "
                    f"{_labels(booking.seat_labels)} but owns sold {_labels(sold)}"
                    + (f" and held {_labels(held)}" if held else ""),
                )
            )
    elif sold and booking.status == BookingStatus.PENDING_PAYMENT:
        # (A closed booking's places are orphans, reported above.)
        found.append(_i1(booking.id, "sold-unpaid", f"is {booking.status} but owns sold {sold}"))
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
            _i2(
                payment.payment_intent_id,
                "unclaimed-payment",
                f"succeeded for {payment.amount} {payment.currency} ({whose}), "
                f"refunded {payment.refunded}; no confirmed booking holds it",
            )
        )
    for booking in bookings:
        found += _booking_money(booking, ledger)
    for intent in scoped_intents(snapshot, ledger, scoped):
        refunded = ledger.refunded.get(intent.id, 0)
        if refunded > max(intent.amount_received, intent.amount):
            found.append(_i2(intent.id, "over-refunded", f"refunded {refunded} of {intent.amount}"))
    return found


def _booking_money(booking: BookingRow, ledger: Ledger) -> list[Violation]:
    if booking.payment_intent_id is None and booking.amount_total == 0:
        return []  # free: confirmed without Stripe, nothing to find there
    intent = ledger.intents.get(booking.payment_intent_id or "")
    refunded = ledger.refunded.get(booking.payment_intent_id or "", 0)
    if booking.status in CLAIMING:
        if intent is None or intent.status != PaymentState.PAID:
            state = intent.status if intent else "not found at Stripe"
            return [
                _i2(
                    booking.id,
                    "confirmed-unpaid",
                    f"is {booking.status} but its payment {booking.payment_intent_id} is {state}",
                )
            ]
        # Partly refunded bookings are claiming still: what was paid must match, and refunds
        # must leave some of it (confirmed-refunded below).
        if (intent.amount_received, intent.currency) != (booking.amount_paid, booking.currency):
            return [
                _i2(
                    booking.id,
                    "amount-mismatch",
                    f"is {booking.status} for {booking.amount_paid} {booking.currency}, "
                    f"{intent.id} received {intent.amount_received} {intent.currency}",
                )
            ]
        if refunded >= intent.amount_received:
            return [
                _i2(
                    booking.id,
                    "confirmed-refunded",
                    f"is {booking.status} but {intent.id} was refunded ({refunded})",
                )
            ]
    if booking.status == BookingStatus.REFUNDED and refunded == 0:
        return [
            _i2(
                booking.id,
                "refunded-without-refund",
                f"is REFUNDED but {booking.payment_intent_id} has no refund at Stripe",
            )
        ]
    return []


# ---- I4: receipts and emails ----------------------------------------------------------------


def documents(
    snapshot: Snapshot, workflows: dict[str, WorkflowState], bookings: list[BookingRow]
) -> list[Violation]:
    found = []
    for booking in bookings:
        receipts = snapshot.documents.get((booking.id, DocumentKind.RECEIPT), 0)
        if booking.status in CLAIMING and receipts != 1:
            found.append(
                _i4(booking.id, "receipt-count", f"is {booking.status} with {receipts} receipts")
            )
        elif booking.confirmed_at is None and receipts:
            found.append(
                _i4(
                    booking.id,
                    "receipt-unconfirmed",
                    f"was never confirmed ({booking.status}) but has {receipts} receipt(s)",
                )
            )
    judged = {b.id for b in bookings}
    for email in snapshot.emails:
        if email.booking_id not in judged:
            continue
        # One email per kind, but one per refund for partial refunds (keyed by its sequence).
        if email.rows > 1 and email.kind != EmailKind.PARTLY_REFUNDED:
            found.append(
                _i4(email.booking_id, "email-twice", f"{email.rows} '{email.kind}' email rows")
            )
        workflow = workflows.get(email.booking_id)
        if email.sending and workflow is not None and not workflow.running:
            found.append(
                _i4(
                    email.booking_id,
                    "email-stuck",
                    f"'{email.kind}' email still sending; its workflow is {workflow.label}",
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
                _i5(
                    booking.id,
                    "mirror-differs",
                    f"the database says {booking.status}, the workflow ({workflow.told_by}) "
                    f"says {told}",
                )
            )
        elif not workflow.running and booking.status in OPEN_STATUSES:
            found.append(
                _i5(
                    booking.id,
                    "open-without-workflow",
                    f"the database says {booking.status} but its workflow is {workflow.label}",
                )
            )
    return found


# ---- helpers ----------------------------------------------------------------------------------


def scoped_intents(snapshot: Snapshot, ledger: Ledger, scoped: bool) -> list[Intent]:
    if not scoped:
        return list(ledger.intents.values())
    return [i for i in ledger.intents.values() if (i.booking_id or "") in snapshot.bookings]


def _workflow_label(status: object) -> str:
    name = getattr(status, "name", None)
    return name if isinstance(name, str) else "NOT_FOUND"


def _labels(labels: Sequence[str]) -> str:
    return "[" + ", ".join(labels) + "]"


def _i1(subject: str, rule: str, detail: str) -> Violation:
    return Violation(Invariant.NO_OVERBOOKING, subject, detail, rule)


def _i2(subject: str, rule: str, detail: str) -> Violation:
    return Violation(Invariant.MONEY_BALANCES, subject, detail, rule)


def _i4(subject: str, rule: str, detail: str) -> Violation:
    return Violation(Invariant.ONE_RECEIPT_ONE_EMAIL, subject, detail, rule)


def _i5(subject: str, rule: str, detail: str) -> Violation:
    return Violation(Invariant.MIRROR_MATCHES_WORKFLOW, subject, detail, rule)
