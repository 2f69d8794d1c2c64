"""moving a booking to another session: the `booking.moved` webhook event, each session's
latest moment a booking may move away from it, and how often a booking has moved

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
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
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "booking.moved")
# core.enums.RefundSource, before and after.
SOURCES_BEFORE = (
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
SOURCES = (*SOURCES_BEFORE, "move")


def _event_types_known(types: tuple[str, ...]) -> None:
    op.drop_constraint("webhook_event_type_known", "webhook_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("webhook_event_type_known", "webhook_events", f"type IN ({listed})")


def _sources_known(sources: tuple[str, ...]) -> None:
    op.drop_constraint("refund_source_known", "booking_refunds", type_="check")
    listed = ", ".join(f"'{s}'" for s in sources)
    op.create_check_constraint("refund_source_known", "booking_refunds", f"source IN ({listed})")


def upgrade() -> None:
    _event_types_known(EVENT_TYPES)
    _sources_known(SOURCES)
    # NULL: a booking may move away until the session starts.
    op.add_column("sessions", sa.Column("move_cutoff_hours", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "move_cutoff_bounded", "sessions", "move_cutoff_hours BETWEEN 0 AND 8760"
    )
    op.add_column("bookings", sa.Column("moves", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("bookings", "moves")
    op.drop_constraint("move_cutoff_bounded", "sessions", type_="check")
    op.drop_column("sessions", "move_cutoff_hours")
    op.execute("DELETE FROM webhook_events WHERE type = 'booking.moved'")
    op.execute("UPDATE booking_refunds SET source = 'places' WHERE source = 'move'")
    _sources_known(SOURCES_BEFORE)
    _event_types_known(EVENT_TYPES_BEFORE)
