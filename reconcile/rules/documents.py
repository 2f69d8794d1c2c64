"""I4 (one receipt, one email per kind) and I8 (every step ends): receipts, credit notes and
emails."""

from datetime import datetime, timedelta

from core.enums import NUMBERED_EMAILS, DocumentKind
from reconcile.rules.vocabulary import (
    Rule,
    Violation,
    is_free,
    labels,
    violation,
    was_confirmed,
)
from reconcile.snapshot import BookingRow, EmailCount, Snapshot
from reconcile.workflow_states import WorkflowState


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
    """A booking that was confirmed has a receipt for the money it took (its own intent's, or
    none paid: free) and one per dearer move's difference it claims (a split booking has no
    receipt for what was handed over to it, but the difference of a dearer partial move is its
    receipt); none for others; and a credit note for each refund it records once it has a
    receipt."""
    receipts = snapshot.documents.get((booking.id, DocumentKind.RECEIPT), 0)
    if was_confirmed(booking):
        expected = _receipts_owed(booking)
        if receipts != expected:
            return [
                violation(
                    Rule.RECEIPT_COUNT,
                    booking.id,
                    f"is {booking.status} with {receipts} receipts",
                )
            ]
    elif receipts:
        return [
            violation(
                Rule.RECEIPT_UNCONFIRMED,
                booking.id,
                f"was never confirmed ({booking.status}) but has {receipts} receipt(s)",
            )
        ]
    noted = snapshot.credit_notes.get(booking.id, set())
    missing = [str(r.sequence) for r in snapshot.refunds_of(booking.id) if r.sequence not in noted]
    if receipts and missing:
        return [
            violation(
                Rule.CREDIT_NOTE_MISSING,
                booking.id,
                f"has no credit note for its refund(s) number {labels(missing)}",
            )
        ]
    return []


def _receipts_owed(booking: BookingRow) -> int:
    """Its own receipt for the money it took (a free booking's for nothing; a split booking
    took none: it was handed over, or it was free), and one per dearer move's difference."""
    own = booking.payment_intent_id is not None or (is_free(booking) and not booking.split_from)
    return int(own) + sum(claim.move_number is not None for claim in booking.claims)


def _email(
    email: EmailCount, workflow: WorkflowState | None, sending_before: datetime
) -> list[Violation]:
    found = []
    # One email per kind, but one per refund for partial refunds, one per change of the
    # session for its changes (keyed by their sequence).
    if email.rows > 1 and email.kind not in NUMBERED_EMAILS:
        found.append(
            violation(Rule.EMAIL_TWICE, email.booking_id, f"{email.rows} '{email.kind}' email rows")
        )
    if email.sending:
        ended = workflow is not None and not workflow.running
        if ended or (email.sending_since is not None and email.sending_since < sending_before):
            since = f"{email.sending_since:%F %T%z}" if email.sending_since else "?"
            whose = f"its workflow is {workflow.label}" if workflow else "no workflow was read"
            found.append(
                violation(
                    Rule.EMAIL_STUCK,
                    email.booking_id,
                    f"'{email.kind}' email sending since {since}; {whose}",
                )
            )
    if email.failed:
        found.append(
            violation(
                Rule.EMAIL_FAILED,
                email.booking_id,
                f"{email.failed} '{email.kind}' email(s) failed at their retry bound",
            )
        )
    return found
