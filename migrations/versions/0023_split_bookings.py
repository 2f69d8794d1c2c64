"""a booking split by a partial move: its claims on the intents it was paid through

A partial move (some places of a group to another session) makes a new booking for the places
that move, paid with its share of what the first booking paid: a PaymentIntent then pays for
more than one booking. `booking_payments` becomes the claims on intents: one row per intent and
booking, `amount` what that booking claims of it (the first booking's claim shrinks by what it
hands over), `transferred_from` the booking a claim was handed over from. For every paid
intent, the claims add up to what Stripe received. One intent per move of a booking holds for
the claims it opened only: a split booking may be handed claims on several intents.

`bookings.split_from`: the booking a split booking's places and money came from.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("booking_payments_pkey", "booking_payments", type_="primary")
    op.create_primary_key(
        "booking_payments_pkey", "booking_payments", ["payment_intent_id", "booking_id"]
    )
    op.create_index(
        "ix_booking_payments_payment_intent_id", "booking_payments", ["payment_intent_id"]
    )
    op.add_column(
        "booking_payments",
        sa.Column("transferred_from", sa.UUID(), sa.ForeignKey("bookings.id"), nullable=True),
    )
    op.drop_constraint("one_payment_per_move", "booking_payments", type_="unique")
    op.create_index(
        "one_payment_per_move",
        "booking_payments",
        ["booking_id", "move_number"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        postgresql_where=sa.text("transferred_from IS NULL"),
    )
    op.add_column(
        "bookings",
        sa.Column("split_from", sa.UUID(), sa.ForeignKey("bookings.id"), nullable=True),
    )
    op.create_index("ix_bookings_split_from", "bookings", ["split_from"])


def downgrade() -> None:
    op.drop_index("ix_bookings_split_from", "bookings")
    op.drop_column("bookings", "split_from")
    op.execute("DELETE FROM booking_payments WHERE transferred_from IS NOT NULL")
    op.drop_index("one_payment_per_move", "booking_payments")
    op.create_unique_constraint(
        "one_payment_per_move",
        "booking_payments",
        ["booking_id", "move_number"],
        postgresql_nulls_not_distinct=True,
    )
    op.drop_column("booking_payments", "transferred_from")
    op.drop_index("ix_booking_payments_payment_intent_id", "booking_payments")
    op.drop_constraint("booking_payments_pkey", "booking_payments", type_="primary")
    op.create_primary_key("booking_payments_pkey", "booking_payments", ["payment_intent_id"])
