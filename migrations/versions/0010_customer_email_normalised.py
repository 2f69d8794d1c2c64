"""customers matched by one stored normalisation of their email address

Export, erasure and the list filter compared PostgreSQL's `lower(trim(...))` with Python's
`casefold()`, which disagree (`ß`, ligatures such as `ﬁ`, `İ`): some customers were never
found. Each booking now stores its address normalised by `core.customer_hash.normalise_email`
(the function the customer hash uses), indexed; the backfill runs that same function here, in
Python, so old rows match exactly as new ones do. The expression index of 0008 goes.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.customer_hash import normalise_email

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("bookings", sa.Column("customer_email_normalised", sa.Text(), nullable=True))
    # The address did not change: the bookings keep their updated_at (trigger of 0008).
    op.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_touch_updated_at")
    _backfill()
    op.execute("ALTER TABLE bookings ENABLE TRIGGER bookings_touch_updated_at")
    op.alter_column("bookings", "customer_email_normalised", nullable=False)
    op.drop_index("ix_bookings_customer_email_normalised", table_name="bookings")
    op.create_index(
        "ix_bookings_customer_email_normalised", "bookings", ["customer_email_normalised"]
    )


def _backfill() -> None:
    """Every row, a batch at a time (keyset on id), through the Python function itself."""
    connection = op.get_bind()
    bookings = sa.table(
        "bookings",
        sa.column("id", sa.Uuid()),
        sa.column("customer_email", sa.Text()),
        sa.column("customer_email_normalised", sa.Text()),
    )
    after = None
    while True:
        query = sa.select(bookings.c.id, bookings.c.customer_email).order_by(bookings.c.id)
        if after is not None:
            query = query.where(bookings.c.id > after)
        rows = connection.execute(query.limit(_BATCH)).all()
        if not rows:
            return
        connection.execute(
            bookings.update()
            .where(bookings.c.id == sa.bindparam("key"))
            .values(customer_email_normalised=sa.bindparam("normalised")),
            [{"key": row.id, "normalised": normalise_email(row.customer_email)} for row in rows],
        )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_bookings_customer_email_normalised", table_name="bookings")
    op.drop_column("bookings", "customer_email_normalised")
    op.execute(
        "CREATE INDEX ix_bookings_customer_email_normalised"
        " ON bookings (lower(trim(customer_email)))"
    )
