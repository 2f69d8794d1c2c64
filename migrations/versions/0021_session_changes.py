"""a session's changes: each change of its time or place announced to its bookings

`sessions.calendar_sequence` counts the changes of time or place: the SEQUENCE of the calendar
files sent since (a cancellation's file is one more). `session_changes` keeps each such change
(what it was before and after, and its accept-or-refund window), read by the workflow that
announces it. Two webhook event types: `session.updated` and `booking.updated`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# core.enums.WebhookEventType written out, before and after (a migration never changes with
# the code).
EVENT_TYPES_BEFORE = (
    "booking.created",
    "booking.confirmed",
    "booking.expired",
    "booking.cancelled",
    "booking.refunded",
    "session.cancelled",
    "ping",
    "attendee.checked_in",
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.accepted",
    "waitlist.expired",
    "waitlist.left",
    "attendee.no_show",
    "booking.moved",
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "session.updated", "booking.updated")


def _event_types_known(types: tuple[str, ...]) -> None:
    op.drop_constraint("webhook_event_type_known", "webhook_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("webhook_event_type_known", "webhook_events", f"type IN ({listed})")


def upgrade() -> None:
    _event_types_known(EVENT_TYPES)
    op.add_column(
        "sessions",
        sa.Column("calendar_sequence", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "session_changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changes", JSONB(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refund_in_full_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "sequence", name="session_change_once"),
        sa.CheckConstraint("sequence > 0", name="session_change_sequence_positive"),
    )


def downgrade() -> None:
    op.drop_table("session_changes")
    op.drop_column("sessions", "calendar_sequence")
    # Their deliveries and attempts go with them (ON DELETE CASCADE).
    op.execute("DELETE FROM webhook_events WHERE type IN ('session.updated', 'booking.updated')")
    _event_types_known(EVENT_TYPES_BEFORE)
