"""I7 (the books equal Stripe): each booking's refunds are Stripe's, one by one, and its totals
stay within what was paid."""

from messages.payments import PaymentState
from reconcile.ledger import Ledger
from reconcile.rules.vocabulary import (
    Rule,
    Violation,
    is_free,
    refunds_at_stripe,
    violation,
    was_confirmed,
)
from reconcile.snapshot import CLAIMING, BookingRow, Snapshot


def books(snapshot: Snapshot, ledger: Ledger, bookings: list[BookingRow]) -> list[Violation]:
    """Each booking's own money ledger: its refunds are Stripe's, one by one; its total is
    their sum; it never gives back more than was paid, nor prices its places above it."""
    found = []
    for booking in bookings:
        recorded = snapshot.refunds_of(booking.id)
        at_stripe = refunds_at_stripe(booking, ledger)  # over its claims, those that are its
        here = {r.stripe_refund_id: r.amount for r in recorded}
        if here != at_stripe:
            found.append(
                violation(
                    Rule.REFUNDS_DIFFER, booking.id, _refunds_differ(booking, here, at_stripe)
                )
            )
        total = sum(here.values())
        if booking.amount_refunded != total:
            found.append(
                violation(
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
            violation(
                Rule.REFUNDED_BEYOND_PAID,
                booking.id,
                f"refunded {booking.amount_refunded} of {paid} {booking.currency} paid: "
                f"{paid - booking.amount_refunded} remains",
            )
        )
    if booking.status in CLAIMING and booking.amount_total > booking.amount_paid:
        found.append(
            violation(
                Rule.TOTAL_ABOVE_PAID,
                booking.id,
                f"its places cost {booking.amount_total} {booking.currency}, "
                f"{booking.amount_paid} was paid: the customer would owe "
                f"{booking.amount_total - booking.amount_paid}",
            )
        )
    return found


def _paid(booking: BookingRow, ledger: Ledger) -> int:
    """What the booking was paid: its own figure once confirmed (or free), else what its own
    PaymentIntent received (late money, refunded since)."""
    if was_confirmed(booking) or is_free(booking):
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
    intents = ", ".join(booking.claimed_intents) or "(no PaymentIntent)"
    return f"its refunds and its refunds of {intents} at Stripe differ; " + "; ".join(parts)


def _amounts(ids: list[str], amounts: dict[str, int]) -> str:
    return ", ".join(f"{i} ({amounts[i]})" for i in ids)
