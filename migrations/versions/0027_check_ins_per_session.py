"""check-ins per session: a booking that moved checks its places in at its new session too

One check-in per (booking, place) kept a place checked in at the session a booking moved from
from being checked in at the one it moved to. One per (booking, session, place): the old
session's check-in stays, as history.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 14:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("one_check_in_per_place", "check_ins", type_="unique")
    op.create_unique_constraint(
        "one_check_in_per_session_place",
        "check_ins",
        ["booking_id", "session_id", "attendee_index"],
    )


def downgrade() -> None:
    # One row per place again: each place keeps its latest check-in (its last session's).
    op.execute(
        """
        DELETE FROM check_ins AS older
        USING check_ins AS newer
        WHERE older.booking_id = newer.booking_id
          AND older.attendee_index = newer.attendee_index
          AND (older.checked_in_at, older.id) < (newer.checked_in_at, newer.id)
        """
    )
    op.drop_constraint("one_check_in_per_session_place", "check_ins", type_="unique")
    op.create_unique_constraint(
        "one_check_in_per_place", "check_ins", ["booking_id", "attendee_index"]
    )
