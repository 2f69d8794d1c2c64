"""a booking's claim on its own intent is what it was paid there

Migration 0022 wrote each booking's claim on its own PaymentIntent from `amount_total`. For a
booking confirmed and then given places back, that is less than Stripe received (the total
shrinks, the money paid does not), so its claims no longer add up to what was paid. The claim
of a confirmed booking on its own intent is set to what it was paid less the differences of
its dearer moves (each claimed on its own intent). Bookings never confirmed keep theirs.

First, a booking whose setup was retried (Stripe lost the first answer: the retry opened
another intent) had its claim left on the first intent, which nobody paid: the claim follows
the booking's own intent.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 13:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A setup retried after Stripe lost its answer opened another intent: the claim follows
    # the booking's own intent, as `record_own_intent` now writes it.
    op.execute(
        """
        UPDATE booking_payments AS own
        SET payment_intent_id = bookings.payment_intent_id
        FROM bookings
        WHERE own.booking_id = bookings.id
          AND own.move_number IS NULL
          AND own.transferred_from IS NULL
          AND own.paid_at IS NULL
          AND own.payment_intent_id <> bookings.payment_intent_id
          AND NOT EXISTS (
              SELECT 1 FROM booking_payments AS other
              WHERE other.payment_intent_id = bookings.payment_intent_id
                AND other.booking_id = bookings.id
          )
        """
    )
    op.execute(
        """
        UPDATE booking_payments AS own
        SET amount = bookings.amount_paid - COALESCE((
            SELECT sum(moved.amount) FROM booking_payments AS moved
            WHERE moved.booking_id = bookings.id
              AND moved.move_number IS NOT NULL
              AND moved.paid_at IS NOT NULL
        ), 0)
        FROM bookings
        WHERE own.booking_id = bookings.id
          AND own.payment_intent_id = bookings.payment_intent_id
          AND own.transferred_from IS NULL
          AND bookings.confirmed_at IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM booking_payments AS handed
              WHERE handed.transferred_from = bookings.id
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: the claims 0022 wrote were wrong for these bookings."""
