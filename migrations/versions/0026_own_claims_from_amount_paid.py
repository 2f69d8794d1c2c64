"""a booking's claim on its own intent is what it was paid there

Migration 0022 wrote each booking's claim on its own PaymentIntent from `amount_total`. For a
booking confirmed and then given places back, that is less than Stripe received (the total
shrinks, the money paid does not), so its claims no longer add up to what was paid. The claim
of a confirmed booking on its own intent is set to what it was paid less the differences of
its dearer moves (each claimed on its own intent). Bookings never confirmed keep theirs.

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
