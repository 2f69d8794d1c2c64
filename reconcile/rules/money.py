"""I2 (money balances): every succeeded payment is claimed, every claiming booking is paid what
it says, and a refund leaves what it should.

A booking's money is its claims (`booking_payments`): its own intent, each dearer move's
difference, and the parts a partial move handed over to the booking it split off. An intent
may pay for several bookings: the claims on it add up to what Stripe received.
"""

from core.enums import BookingStatus, SessionStatus
from messages.payments import PaymentState
from reconcile.findings import find_unclaimed_payments
from reconcile.ledger import Intent, Ledger
from reconcile.rules.vocabulary import (
    Rule,
    Violation,
    is_free,
    refunds_at_stripe,
    violation,
    was_confirmed,
)
from reconcile.snapshot import CLAIMING, BookingRow, Snapshot
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
    found += _claims_received(snapshot, ledger, bookings)
    for intent in scoped_intents(snapshot, ledger, scoped):
        refunded = ledger.refunded.get(intent.id, 0)
        if refunded > max(intent.amount_received, intent.amount):
            found.append(
                violation(Rule.OVER_REFUNDED, intent.id, f"refunded {refunded} of {intent.amount}")
            )
    return found


def _booking_money(booking: BookingRow, ledger: Ledger) -> list[Violation]:
    """One booking over its claims (one intent is a list of one): each paid at Stripe while
    it claims them, what it says was paid their sum, and its own refunds on them (those naming
    it, or naming none on an intent it opened) leave some while it claims."""
    if is_free(booking):
        return []  # confirmed without Stripe, nothing to find there
    refunded = sum(refunds_at_stripe(booking, ledger).values())
    if booking.status in CLAIMING and (unpaid := _unpaid(booking, ledger)):
        return [
            violation(
                Rule.CONFIRMED_UNPAID, booking.id, f"is {booking.status} but {'; '.join(unpaid)}"
            )
        ]
    if was_confirmed(booking):
        # Confirmed once, whatever happened since: what it says was paid is what it claims.
        claimed = booking.claimed
        currencies = {
            intent.currency
            for intent_id in booking.claimed_intents
            if (intent := ledger.intents.get(intent_id)) is not None
        }
        if claimed != booking.amount_paid or currencies - {booking.currency}:
            return [
                violation(
                    Rule.AMOUNT_MISMATCH,
                    booking.id,
                    f"is {booking.status}, paid {booking.amount_paid} {booking.currency}; its "
                    f"claims on {', '.join(booking.claimed_intents) or 'no intent'} add up to "
                    f"{claimed} {'/'.join(sorted(currencies)) or booking.currency}",
                )
            ]
        if refunded > claimed:
            return [
                violation(
                    Rule.OVER_REFUNDED,
                    booking.id,
                    f"refunded {refunded} of the {claimed} {booking.currency} it claims",
                )
            ]
        # Partly refunded bookings are claiming still; refunds must leave some of it.
        if booking.status in CLAIMING and refunded and refunded >= claimed:
            return [
                violation(
                    Rule.CONFIRMED_REFUNDED,
                    booking.id,
                    f"is {booking.status} but what it claims was refunded ({refunded})",
                )
            ]
    if booking.status == BookingStatus.REFUNDED and refunded == 0:
        return [
            violation(
                Rule.REFUNDED_WITHOUT_REFUND,
                booking.id,
                f"is REFUNDED but no refund of {', '.join(booking.claimed_intents) or 'its'} "
                "at Stripe is its",
            )
        ]
    return []


def _unpaid(booking: BookingRow, ledger: Ledger) -> list[str]:
    """Its claims on intents Stripe does not say are paid (one older than the window read is
    not judged)."""
    found = []
    for intent_id in booking.claimed_intents:
        intent = ledger.intents.get(intent_id)
        if intent is None and ledger.unread(intent_id):
            continue
        if intent is None or intent.status != PaymentState.PAID:
            state = intent.status if intent else "not found at Stripe"
            found.append(f"its payment {intent_id} is {state}")
    return found


def _claims_received(
    snapshot: Snapshot, ledger: Ledger, bookings: list[BookingRow]
) -> list[Violation]:
    """For each paid intent a booking that was confirmed claims: all its bookings' claims add
    up to what Stripe received (a split hands over a part, it never makes or loses money).
    An intent whose claimants were never confirmed is the unclaimed finder's."""
    judged = {booking.id for booking in bookings}
    found = []
    for intent_id in sorted({i for booking in bookings for i in booking.claimed_intents}):
        intent = ledger.intents.get(intent_id)
        claims = snapshot.claims_on(intent_id)
        if intent is None or intent.status != PaymentState.PAID:
            continue
        if not any(claim.holds for claim in claims):
            continue
        if any(c.booking_id in snapshot.bookings and c.booking_id not in judged for c in claims):
            continue  # one of its bookings is changing: judged when it is at rest
        claimed = sum(claim.amount for claim in claims)
        if claimed != intent.amount_received:
            parts = ", ".join(f"{claim.booking_id} {claim.amount}" for claim in claims)
            found.append(
                violation(
                    Rule.CLAIMS_DIFFER,
                    intent_id,
                    f"received {intent.amount_received} {intent.currency}; the claims on it "
                    f"add up to {claimed} ({parts})",
                )
            )
    return found


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
