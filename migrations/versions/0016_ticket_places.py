"""the places a booking's tickets admit

A ticket names a booking's place by its index in the places the booking had when it was
confirmed (`bookings.ticket_seat_labels`), not in what it holds now: places given back by seat
leave the others in order, so an index into today's places would admit a place given back and
refuse one kept. Bookings confirmed before this revision take their places as they are now.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("ticket_seat_labels", JSONB(), nullable=True))
    # A figure filled in, no change of the booking: the rows keep their updated_at (0008).
    op.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_touch_updated_at")
    op.execute(
        "UPDATE bookings SET ticket_seat_labels = seat_labels WHERE confirmed_at IS NOT NULL"
    )
    op.execute("ALTER TABLE bookings ENABLE TRIGGER bookings_touch_updated_at")


def downgrade() -> None:
    op.drop_column("bookings", "ticket_seat_labels")
