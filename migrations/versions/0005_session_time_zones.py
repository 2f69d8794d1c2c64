"""session time zones

Every session carries the IANA zone where it happens, so receipts, emails and calendar files
print its times as local time. Sessions that exist before this revision get UTC: it is how
their documents and emails have always printed their times, so nothing a customer already
holds changes meaning, and a migration must not guess where a session takes place (an admin
can correct the zone).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sessions", "time_zone")
