"""when a session's cancellation began

`sessions.cancelled_at` is set when the organiser's cancellation stops sales. A booking closed
after it must be refunded in full; one a customer cancelled before it keeps its policy's
outcome. Reconcile (`session-cancelled-kept`) tells the two apart by it; sessions cancelled
before this revision keep NULL (the rule then judges none of their bookings).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "cancelled_at")
