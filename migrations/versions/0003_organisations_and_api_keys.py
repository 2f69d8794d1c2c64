"""organisations and api keys

Every session belongs to an organisation; rows that exist before this revision are carried into
the default organisation. API keys are stored as a lookup prefix and a keyed hash.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# store.organisations.DEFAULT_ORGANISATION_ID, written out: a migration never changes with the code.
DEFAULT_ORGANISATION_ID = "00000000-0000-4000-8000-000000000001"
DEFAULT_ORGANISATION_NAME = "Default organisation"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.execute(
        sa.text(
            "INSERT INTO organisations (id, name) VALUES (CAST(:id AS uuid), :name)"
        ).bindparams(id=DEFAULT_ORGANISATION_ID, name=DEFAULT_ORGANISATION_NAME)
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organisation_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('client', 'admin')", name="role_known"),
        sa.CheckConstraint("rate_limit_per_minute > 0", name="rate_limit_positive"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index("ix_api_keys_organisation", "api_keys", ["organisation_id"])

    # Existing sessions (and so their bookings) go to the default organisation, then the
    # column becomes required.
    op.add_column("sessions", sa.Column("organisation_id", sa.UUID(), nullable=True))
    op.execute(
        sa.text("UPDATE sessions SET organisation_id = CAST(:id AS uuid)").bindparams(
            id=DEFAULT_ORGANISATION_ID
        )
    )
    op.alter_column("sessions", "organisation_id", nullable=False)
    op.create_foreign_key(
        "sessions_organisation_id_fkey", "sessions", "organisations", ["organisation_id"], ["id"]
    )
    op.create_index(
        "ix_sessions_organisation_starts_at", "sessions", ["organisation_id", "starts_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_organisation_starts_at", table_name="sessions")
    op.drop_constraint("sessions_organisation_id_fkey", "sessions", type_="foreignkey")
    op.drop_column("sessions", "organisation_id")
    op.drop_index("ix_api_keys_organisation", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("organisations")
