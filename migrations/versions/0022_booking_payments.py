"""every PaymentIntent of a booking: its own, and each dearer move's difference

`booking_payments` holds one row per intent made for a booking: the booking's own
(`move_number` NULL, written with the intent, backfilled here from `bookings.payment_intent_id`)
and the difference of each move to a dearer session (`move_number` the move's), with its target
session, when it was paid (the move settled) or abandoned (the hold ended unpaid). A booking's
money is the sum over its paid intents; `bookings.amount_paid` keeps that sum.

`receipts.move_number`: the receipt of a move's difference, one per move, beside the booking's
own receipt (NULL).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _one_document(columns: list[str]) -> None:
    op.drop_constraint("one_document_per_refund", "receipts", type_="unique")
    op.create_unique_constraint(
        "one_document_per_refund", "receipts", columns, postgresql_nulls_not_distinct=True
    )


def upgrade() -> None:
    op.create_table(
        "booking_payments",
        sa.Column("payment_intent_id", sa.String(length=255), primary_key=True),
        sa.Column("booking_id", sa.UUID(), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("move_number", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.UUID(), sa.ForeignKey("sessions.id"), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount >= 0", name="booking_payment_not_negative"),
        sa.UniqueConstraint(
            "booking_id",
            "move_number",
            name="one_payment_per_move",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_booking_payments_booking_id", "booking_payments", ["booking_id"])
    op.execute(
        "INSERT INTO booking_payments (payment_intent_id, booking_id, amount, currency, "
        "created_at, paid_at) "
        "SELECT payment_intent_id, id, amount_total, currency, created_at, confirmed_at "
        "FROM bookings WHERE payment_intent_id IS NOT NULL"
    )
    op.add_column("receipts", sa.Column("move_number", sa.Integer(), nullable=True))
    _one_document(["booking_id", "kind", "refund_sequence", "move_number"])


def downgrade() -> None:
    op.execute("DELETE FROM receipts WHERE move_number IS NOT NULL")
    _one_document(["booking_id", "kind", "refund_sequence"])
    op.drop_column("receipts", "move_number")
    op.drop_index("ix_booking_payments_booking_id", "booking_payments")
    op.drop_table("booking_payments")
