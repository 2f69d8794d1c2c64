"""an index on bookings.stripe_account_id

Reconcile, the Stripe webhooks and the safety net list the connected accounts payments were made
in (`store.stripe_accounts.connected_accounts`: the bookings' distinct `stripe_account_id`);
without an index each list reads every booking. Built
CONCURRENTLY (outside the migration's transaction), so bookings are written meanwhile.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 13:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_bookings_stripe_account_id"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            _INDEX,
            "bookings",
            ["stripe_account_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(_INDEX, table_name="bookings", postgresql_concurrently=True, if_exists=True)
