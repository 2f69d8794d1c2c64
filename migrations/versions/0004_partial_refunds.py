"""refund policies and partial refunds

Sessions carry a refund policy (NULL: full refund until the start, as before). Each refund of a
booking is a row of `booking_refunds`; a booking may have one credit note per refund, so the
one-document-per-kind rule becomes one per (kind, refund). `amount_paid` keeps what was paid
once places of a booking are cancelled and its amounts re-priced.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("refund_policy", postgresql.JSONB(), nullable=True))
    op.add_column("bookings", sa.Column("amount_paid", sa.Integer(), nullable=True))
    op.add_column(
        "bookings",
        sa.Column("amount_refunded", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "booking_refunds",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="refund_positive"),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "sequence", name="refund_sequence_unique"),
        sa.UniqueConstraint("stripe_refund_id"),
    )
    op.add_column("receipts", sa.Column("refund_sequence", sa.Integer(), nullable=True))
    op.drop_constraint("one_document_per_kind", "receipts", type_="unique")
    op.execute(
        "ALTER TABLE receipts ADD CONSTRAINT one_document_per_refund "
        "UNIQUE NULLS NOT DISTINCT (booking_id, kind, refund_sequence)"
    )


def downgrade() -> None:
    op.drop_constraint("one_document_per_refund", "receipts", type_="unique")
    # Only the first document of each kind survives the way back.
    op.execute(
        "DELETE FROM receipts r USING receipts o WHERE o.booking_id = r.booking_id "
        "AND o.kind = r.kind AND o.id < r.id"
    )
    op.create_unique_constraint("one_document_per_kind", "receipts", ["booking_id", "kind"])
    op.drop_column("receipts", "refund_sequence")
    op.drop_table("booking_refunds")
    op.drop_column("bookings", "amount_refunded")
    op.drop_column("bookings", "amount_paid")
    op.drop_column("sessions", "refund_policy")
