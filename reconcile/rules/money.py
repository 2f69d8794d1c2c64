"""I2 (money balances): every succeeded payment is claimed, every claiming booking is paid what
it says, and a refund leaves what it should."""

from core.enums import BookingStatus, SessionStatus
from messages.payments import PaymentState
from reconcile.findings import CLAIMING, find_unclaimed_payments
from reconcile.ledger import Intent, Ledger
from reconcile.rules.vocabulary import Rule, Violation, is_free, violation, was_confirmed
from reconcile.snapshot import BookingRow, Snapshot
from reconcile.workflow_states import WorkflowState


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
            violation(
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
                violation(Rule.OVER_REFUNDED, intent.id, f"refunded {refunded} of {intent.amount}")
            )
    return found


def _booking_money(booking: BookingRow, ledger: Ledger) -> list[Violation]:
    if is_free(booking):
        return []  # confirmed without Stripe, nothing to find there
    if booking.moved_payments:
        return _moved_booking_money(booking, ledger)
    intent = ledger.intents.get(booking.payment_intent_id or "")
    refunded = ledger.refunded.get(booking.payment_intent_id or "", 0)
    paid = intent is not None and intent.status == PaymentState.PAID
    if booking.status in CLAIMING and not paid:
        state = intent.status if intent else "not found at Stripe"
        return [
            violation(
                Rule.CONFIRMED_UNPAID,
                booking.id,
                f"is {booking.status} but its payment {booking.payment_intent_id} is {state}",
            )
        ]
    if intent is not None and paid and was_confirmed(booking):
        # Confirmed once, whatever happened since: what it says was paid is what Stripe got.
        if (intent.amount_received, intent.currency) != (booking.amount_paid, booking.currency):
            return [
                violation(
                    Rule.AMOUNT_MISMATCH,
                    booking.id,
                    f"is {booking.status}, paid {booking.amount_paid} {booking.currency}; "
                    f"{intent.id} received {intent.amount_received} {intent.currency}",
                )
            ]
        # Partly refunded bookings are claiming still; refunds must leave some of it.
        if booking.status in CLAIMING and refunded >= intent.amount_received:
            return [
                violation(
                    Rule.CONFIRMED_REFUNDED,
                    booking.id,
                    f"is {booking.status} but {intent.id} was refunded ({refunded})",
                )
            ]
    if booking.status == BookingStatus.REFUNDED and refunded == 0:
        return [
            violation(
                Rule.REFUNDED_WITHOUT_REFUND,
                booking.id,
                f"is REFUNDED but {booking.payment_intent_id} has no refund at Stripe",
            )
        ]
    return []


def _moved_booking_money(booking: BookingRow, ledger: Ledger) -> list[Violation]:
    """A booking moved to a dearer session is paid over its intents: each paid at Stripe, what
    it says was paid their sum, and refunds over all of them leave some while it claims."""
    intents = [ledger.intents.get(intent_id) for intent_id in booking.claimed_intents]
    unpaid = [
        intent_id
        for intent_id, intent in zip(booking.claimed_intents, intents, strict=True)
        if intent is None or intent.status != PaymentState.PAID
    ]
    if unpaid:
        return [
            violation(
                Rule.CONFIRMED_UNPAID,
                booking.id,
                f"is {booking.status} but its payment(s) {', '.join(unpaid)} are not paid",
            )
        ]
    received = sum(intent.amount_received for intent in intents if intent is not None)
    refunded = sum(ledger.refunded.get(intent_id, 0) for intent_id in booking.claimed_intents)
    if received != booking.amount_paid:
        return [
            violation(
                Rule.AMOUNT_MISMATCH,
                booking.id,
                f"is {booking.status}, paid {booking.amount_paid} {booking.currency}; its "
                f"{len(intents)} intents received {received}",
            )
        ]
    if booking.status in CLAIMING and refunded >= received:
        return [
            violation(
                Rule.CONFIRMED_REFUNDED,
                booking.id,
                f"is {booking.status} but its intents were refunded ({refunded})",
            )
        ]
    if booking.status == BookingStatus.REFUNDED and refunded == 0:
        return [
            violation(
                Rule.REFUNDED_WITHOUT_REFUND,
                booking.id,
                "is REFUNDED but none of its intents has a refund at Stripe",
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
    if not was_confirmed(booking):
        return []
    if booking.amount_refunded >= booking.amount_paid:
        return []
    return [
        violation(
            Rule.SESSION_CANCELLED_KEPT,
            booking.id,
            f"is {booking.status} in a cancelled session but refunded {booking.amount_refunded}"
            f" of {booking.amount_paid} {booking.currency}",
        )
    ]


def scoped_intents(snapshot: Snapshot, ledger: Ledger, scoped: bool) -> list[Intent]:
    if not scoped:
        return list(ledger.intents.values())
    return [i for i in ledger.intents.values() if (i.booking_id or "") in snapshot.bookings]
