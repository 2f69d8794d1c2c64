"""the waiting list's webhook events: `waitlist.joined`, `.offered`, `.accepted`, `.expired`,
`.left`

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
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
    "ping",
)
WAITLIST_EVENTS = (
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.accepted",
    "waitlist.expired",
    "waitlist.left",
)


def _event_types_known(types: tuple[str, ...]) -> None:
    op.drop_constraint("webhook_event_type_known", "webhook_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("webhook_event_type_known", "webhook_events", f"type IN ({listed})")


def upgrade() -> None:
    _event_types_known((*EVENT_TYPES_BEFORE, *WAITLIST_EVENTS))


def downgrade() -> None:
    # Their deliveries and attempts go with them (ON DELETE CASCADE).
    listed = ", ".join(f"'{t}'" for t in WAITLIST_EVENTS)
    op.execute(f"DELETE FROM webhook_events WHERE type IN ({listed})")
    _event_types_known(EVENT_TYPES_BEFORE)
