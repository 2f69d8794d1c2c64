"""the money ledger: each refund's source, and what was paid always stored

`booking_refunds.source` says who or what made each refund (`core.enums.RefundSource`): the
customer's cancel by policy, an admin, places given back, the session's cancellation, a late
payment, a payment that could not be confirmed, the safety net, or Stripe itself (read back).
Its server default is `stripe`, so a row written by code that does not name a source still
inserts, and the refunds recorded before hold it.

`bookings.amount_paid` was only kept once places were given back; it now holds what was paid
from the confirmation on (0 before), so paid minus refunded is what remains at Stripe. Rows
before are filled in: a confirmed booking paid its total; any other paid only what came back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# `RefundSource` as of this revision (a migration does not follow later edits of the enum).
SOURCES = (
    "customer-policy",
    "admin",
    "places",
    "session-cancelled",
    "late-payment",
    "amount-mismatch",
    "not-confirmable",
    "safety-net",
    "stripe",
)
revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "booking_refunds",
        sa.Column("source", sa.String(length=32), server_default="stripe", nullable=False),
    )
    op.create_check_constraint(
        "refund_source_known",
        "booking_refunds",
        f"source IN ({', '.join(repr(source) for source in SOURCES)})",
    )
    # Filling in a figure is no change of the booking: the rows keep their updated_at (the
    # trigger of 0008), which the booking list's `updated_after` filter and cursors read.
    op.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_touch_updated_at")
    op.execute(
        "UPDATE bookings SET amount_paid = CASE WHEN confirmed_at IS NOT NULL "
        "THEN amount_total ELSE amount_refunded END WHERE amount_paid IS NULL"
    )
    op.execute("ALTER TABLE bookings ENABLE TRIGGER bookings_touch_updated_at")
    op.alter_column("bookings", "amount_paid", server_default="0")


def downgrade() -> None:
    op.alter_column("bookings", "amount_paid", server_default=None)
    op.drop_constraint("refund_source_known", "booking_refunds", type_="check")
    op.drop_column("booking_refunds", "source")
