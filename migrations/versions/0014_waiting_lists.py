"""waiting lists: entries, places held for offers, each session's list status

`waiting_list_entries` holds each customer or group waiting for a session's places, in join
order (`position`), with the offer it holds while OFFERED. A place held for an offer is a seat
in state `offered` naming its entry (`waiting_entry_id`): neither free nor sold, so the
no-oversell guarantee reads held + sold + offered <= capacity. Sessions get their list's status
(open) and how long an offer stands (12 hours). Nothing existing changes meaning.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENTRY_STATES = "'waiting', 'offered', 'accepted', 'declined', 'expired', 'left', 'closed'"


def upgrade() -> None:
    op.create_table(
        "waiting_list_entries",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("session_id", sa.UUID(), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        sa.Column("customer_name", sa.Text(), nullable=False),
        sa.Column("customer_email", sa.Text(), nullable=False),
        sa.Column("customer_email_normalised", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("seat_labels", JSONB(), nullable=False),
        sa.Column("attendees", JSONB(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("offers_made", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("offer_seat_labels", JSONB(), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True)),
        sa.Column("offer_token_hash", sa.String(64)),
        sa.Column("booking_id", sa.UUID()),
        sa.Column("told_state", sa.String(16)),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("offered_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(f"state IN ({_ENTRY_STATES})", name="waiting_entry_state_known"),
        sa.CheckConstraint("quantity > 0", name="waiting_quantity_positive"),
        sa.CheckConstraint("skipped_count >= 0", name="skipped_not_negative"),
        sa.CheckConstraint(
            "(state = 'offered') = (offer_expires_at IS NOT NULL AND offer_token_hash IS NOT NULL)",
            name="offer_iff_offered",
        ),
    )
    op.create_index(
        "ix_waiting_list_session_position", "waiting_list_entries", ["session_id", "position"]
    )
    op.create_index(
        "ix_waiting_list_customer_email_normalised",
        "waiting_list_entries",
        ["customer_email_normalised"],
    )
    op.add_column(
        "sessions",
        sa.Column("waiting_list_status", sa.String(8), nullable=False, server_default="open"),
    )
    op.add_column(
        "sessions",
        sa.Column("offer_seconds", sa.Integer(), nullable=False, server_default="43200"),
    )
    op.create_check_constraint(
        "waiting_list_known", "sessions", "waiting_list_status IN ('open', 'paused', 'closed')"
    )
    op.create_check_constraint("offer_bounded", "sessions", "offer_seconds BETWEEN 1 AND 604800")
    op.add_column(
        "seats",
        sa.Column("waiting_entry_id", sa.UUID(), sa.ForeignKey("waiting_list_entries.id")),
    )
    op.create_index("ix_seats_waiting_entry", "seats", ["waiting_entry_id"])
    _seat_constraints(
        "state IN ('free', 'held', 'sold', 'offered')",
        "(state IN ('held', 'sold')) = (booking_id IS NOT NULL)",
    )
    op.create_check_constraint(
        "offered_iff_entry", "seats", "(state = 'offered') = (waiting_entry_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_constraint("offered_iff_entry", "seats", type_="check")
    op.execute("UPDATE seats SET state = 'free', waiting_entry_id = NULL WHERE state = 'offered'")
    _seat_constraints(
        "state IN ('free', 'held', 'sold')", "(state = 'free') = (booking_id IS NULL)"
    )
    op.drop_index("ix_seats_waiting_entry", "seats")
    op.drop_column("seats", "waiting_entry_id")
    op.drop_constraint("offer_bounded", "sessions", type_="check")
    op.drop_constraint("waiting_list_known", "sessions", type_="check")
    op.drop_column("sessions", "offer_seconds")
    op.drop_column("sessions", "waiting_list_status")
    op.drop_table("waiting_list_entries")


def _seat_constraints(known: str, owner: str) -> None:
    op.drop_constraint("state_known", "seats", type_="check")
    op.drop_constraint("owner_iff_taken", "seats", type_="check")
    op.create_check_constraint("state_known", "seats", known)
    op.create_check_constraint("owner_iff_taken", "seats", owner)
