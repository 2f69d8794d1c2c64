"""waiting_list_entries.offer_caps: how often an open offer's deadline was capped

A session's start moved earlier caps its open offers' deadlines at the new start; each cap
tells the offered customer the new deadline in an email of its own (keyed by this count), so
an offer email already sent does not keep promising the old one. 0 for every existing entry
(and for each new offer).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "waiting_list_entries",
        sa.Column("offer_caps", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("waiting_list_entries", "offer_caps")
