"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:43:01.309582
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "year"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hold_seconds", sa.Integer(), nullable=False),
        sa.Column("discount_min_quantity", sa.Integer(), nullable=False),
        sa.Column("discount_basis_points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        sa.CheckConstraint("kind IN ('course', 'seated', 'appointment')", name="kind_known"),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name="status_known"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint("discount_basis_points BETWEEN 0 AND 10000", name="discount_bounded"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("hold_seconds BETWEEN 1 AND 86400", name="hold_bounded"),
        sa.CheckConstraint("price_amount >= 0", name="price_not_negative"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sessions_starts_at", "sessions", ["starts_at"], unique=False)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("booking_id", sa.UUID(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("customer_name", sa.Text(), nullable=False),
        sa.Column("customer_email", sa.Text(), nullable=False),
        sa.Column("attendees", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("seat_labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("amount_subtotal", sa.Integer(), nullable=False),
        sa.Column("discount", sa.Integer(), nullable=False),
        sa.Column("amount_total", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_total = amount_subtotal - discount", name="amounts_add_up"),
        sa.CheckConstraint("amount_total >= 0 AND discount >= 0", name="amounts_not_negative"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payment_intent_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_bookings_customer_email", "bookings", ["customer_email"], unique=False)
    op.create_index("ix_bookings_session", "bookings", ["session_id"], unique=False)
    op.create_index("ix_bookings_status", "bookings", ["status"], unique=False)
    op.create_table(
        "seats",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("(state = 'free') = (booking_id IS NULL)", name="owner_iff_taken"),
        sa.CheckConstraint("state IN ('free', 'held', 'sold')", name="state_known"),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "label", name="seat_label_unique"),
    )
    op.create_index("ix_seats_booking", "seats", ["booking_id"], unique=False)
    op.create_index(
        "ix_seats_session_state", "seats", ["session_id", "state", "position"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_seats_session_state", table_name="seats")
    op.drop_index("ix_seats_booking", table_name="seats")
    op.drop_table("seats")
    op.drop_index("ix_bookings_status", table_name="bookings")
    op.drop_index("ix_bookings_session", table_name="bookings")
    op.drop_index("ix_bookings_customer_email", table_name="bookings")
    op.drop_table("bookings")
    op.drop_table("stripe_events")
    op.drop_index("ix_sessions_starts_at", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("reference_counters")
