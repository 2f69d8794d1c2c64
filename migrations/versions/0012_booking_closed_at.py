"""when a booking closed

`bookings.closed_at` is set by the first transition that ends the booking (EXPIRED, CANCELLED,
REFUNDED, COMPLETED) and never again. Reconcile's `session-cancelled-kept` compares it with
`sessions.cancelled_at`: `updated_at` moved with any later change (an erasure, a refund made at
Stripe) and made a booking its customer cancelled before the session's cancellation look as if
it closed after. Bookings closed before this revision take their `updated_at`, the best guess.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    # A figure filled in, no change of the booking: the rows keep their updated_at (0008).
    op.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_touch_updated_at")
    op.execute(
        "UPDATE bookings SET closed_at = updated_at"
        " WHERE status IN ('EXPIRED', 'CANCELLED', 'REFUNDED', 'COMPLETED')"
    )
    op.execute("ALTER TABLE bookings ENABLE TRIGGER bookings_touch_updated_at")


def downgrade() -> None:
    op.drop_column("bookings", "closed_at")
