"""booking questions and consents: a session's questions and consents, every version of a
consent's text, a booking's answers and acceptances, and webhook endpoints' opt-in to answers

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json_list(table: str, column: str) -> None:
    op.add_column(table, sa.Column(column, JSONB(), server_default="[]", nullable=False))


def upgrade() -> None:
    _json_list("sessions", "questions")
    _json_list("sessions", "consents")
    op.create_table(
        "session_consent_versions",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "published_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("session_id", "key", "version"),
        sa.CheckConstraint("version > 0", name="consent_version_positive"),
    )
    # New columns with a constant default: PostgreSQL writes no row (no rewrite, no trigger).
    _json_list("bookings", "answers")
    _json_list("bookings", "consents")
    op.add_column(
        "webhook_endpoints",
        sa.Column("include_answers", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "include_answers")
    op.drop_column("bookings", "consents")
    op.drop_column("bookings", "answers")
    op.drop_table("session_consent_versions")
    op.drop_column("sessions", "consents")
    op.drop_column("sessions", "questions")
