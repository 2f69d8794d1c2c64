"""Migration 0024: the index on bookings.stripe_account_id (the model's) comes and goes."""

from devstack.postgres import Cluster
from models.tables import Booking
from tests.helpers.database import alembic, scratch_database

_INDEX = "ix_bookings_stripe_account_id"
_FOUND = f"SELECT indexdef FROM pg_indexes WHERE indexname = '{_INDEX}'"


def test_migration_0024_indexes_the_bookings_stripe_account_and_is_reversible(
    postgres: Cluster,
) -> None:
    assert _INDEX in {index.name for index in Booking.__table__.indexes}
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0024")
        assert sql(_FOUND).endswith("USING btree (stripe_account_id)")
        alembic(url, "downgrade", "0023")
        assert sql(_FOUND) == ""
        alembic(url, "upgrade", "head")
        assert sql(_FOUND) != ""
