"""door keys and check-ins: a `door` role of API key; one check-in row per attendee's place;
the `attendee.checked_in` webhook event

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
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
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "attendee.checked_in")


def _event_types_known(types: tuple[str, ...]) -> None:
    op.drop_constraint("webhook_event_type_known", "webhook_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("webhook_event_type_known", "webhook_events", f"type IN ({listed})")


def upgrade() -> None:
    _event_types_known(EVENT_TYPES)
    op.drop_constraint("role_known", "api_keys", type_="check")
    op.create_check_constraint("role_known", "api_keys", "role IN ('client', 'admin', 'door')")
    op.create_table(
        "check_ins",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("attendee_index", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("api_key_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"]),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "attendee_index", name="one_check_in_per_place"),
        sa.CheckConstraint("attendee_index >= 0", name="attendee_index_not_negative"),
    )
    op.create_index("ix_check_ins_session", "check_ins", ["session_id", "checked_in_at"])


def downgrade() -> None:
    op.drop_index("ix_check_ins_session", table_name="check_ins")
    op.drop_table("check_ins")
    op.execute("DELETE FROM api_keys WHERE role = 'door'")
    op.drop_constraint("role_known", "api_keys", type_="check")
    op.create_check_constraint("role_known", "api_keys", "role IN ('client', 'admin')")
    # Its deliveries and attempts go with it (ON DELETE CASCADE).
    op.execute("DELETE FROM webhook_events WHERE type = 'attendee.checked_in'")
    _event_types_known(EVENT_TYPES_BEFORE)
