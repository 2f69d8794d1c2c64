"""attendance and certificates: each place of a session's confirmed bookings recorded attended
or no-show at the session's end (corrected by an organiser within a window), certifying
sessions, certificates of attendance, and the `attendee.no_show` webhook event

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
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
    "attendee.checked_in",
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.accepted",
    "waitlist.expired",
    "waitlist.left",
    "ping",
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "attendee.no_show")


def _event_types_known(types: tuple[str, ...]) -> None:
    op.drop_constraint("webhook_event_type_known", "webhook_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("webhook_event_type_known", "webhook_events", f"type IN ({listed})")


def upgrade() -> None:
    _event_types_known(EVENT_TYPES)
    op.add_column(
        "sessions",
        sa.Column("certifying", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "attendance",
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("attendee_index", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("corrections", sa.Integer(), server_default="0", nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.ForeignKeyConstraint(["corrected_by"], ["api_keys.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("booking_id", "attendee_index"),
        sa.CheckConstraint("attendee_index >= 0", name="attendance_index_not_negative"),
    )
    op.create_index("ix_attendance_session", "attendance", ["session_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organisation_id", sa.UUID(), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("attendee_index", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("attendee_name", sa.Text(), nullable=False),
        sa.Column("course_title", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("reissues", sa.Integer(), server_default="0", nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "attendee_index", name="one_certificate_per_place"),
        sa.UniqueConstraint("organisation_id", "number", name="certificate_number_unique"),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_index("ix_attendance_session", table_name="attendance")
    op.drop_table("attendance")
    op.drop_column("sessions", "certifying")
    # Its deliveries and attempts go with it (ON DELETE CASCADE).
    op.execute("DELETE FROM webhook_events WHERE type = 'attendee.no_show'")
    _event_types_known(EVENT_TYPES_BEFORE)
