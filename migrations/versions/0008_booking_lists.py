"""booking lists: updated_at kept by the database, indexes for the list and its filters

`bookings.updated_at` existed but only the writes that remembered it set it (erasure did not):
a trigger now sets it on every update that changes the row, whoever writes it (activities,
operators' repairs, plain SQL). A write that changes nothing (a retried transition) leaves it.

The list walks bookings in (created_at, id) order; the indexes let PostgreSQL read that order
from an index for the whole list and for one session, and find the rows of a status, an
update range or a customer's email (as the filters compare it: trimmed, lower case) directly.
`ix_bookings_session` is replaced by (session_id, created_at, id), which serves it too.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-22 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION bookings_touch_updated_at() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW IS DISTINCT FROM OLD THEN
                NEW.updated_at := now();
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER bookings_touch_updated_at BEFORE UPDATE ON bookings"
        " FOR EACH ROW EXECUTE FUNCTION bookings_touch_updated_at()"
    )
    op.create_index("ix_bookings_created", "bookings", ["created_at", "id"])
    op.create_index("ix_bookings_session_created", "bookings", ["session_id", "created_at", "id"])
    op.drop_index("ix_bookings_session", table_name="bookings")
    op.create_index("ix_bookings_status_created", "bookings", ["status", "created_at", "id"])
    op.drop_index("ix_bookings_status", table_name="bookings")
    op.create_index("ix_bookings_updated", "bookings", ["updated_at"])
    op.execute(
        "CREATE INDEX ix_bookings_customer_email_normalised"
        " ON bookings (lower(trim(customer_email)))"
    )


def downgrade() -> None:
    op.drop_index("ix_bookings_customer_email_normalised", table_name="bookings")
    op.drop_index("ix_bookings_updated", table_name="bookings")
    op.create_index("ix_bookings_status", "bookings", ["status"])
    op.drop_index("ix_bookings_status_created", table_name="bookings")
    op.create_index("ix_bookings_session", "bookings", ["session_id"])
    op.drop_index("ix_bookings_session_created", table_name="bookings")
    op.drop_index("ix_bookings_created", table_name="bookings")
    op.execute("DROP TRIGGER bookings_touch_updated_at ON bookings")
    op.execute("DROP FUNCTION bookings_touch_updated_at()")
