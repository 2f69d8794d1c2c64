"""Migration 0024: the index on bookings.stripe_account_id (the model's) comes and goes."""

from devstack.postgres import Cluster
from models.tables import Base
from tests.helpers.database import round_trip

_INDEX = "ix_bookings_stripe_account_id"
_FOUND = f"SELECT indexdef FROM pg_indexes WHERE indexname = '{_INDEX}'"


def test_migration_0024_indexes_the_bookings_stripe_account_and_is_reversible(
    postgres: Cluster,
) -> None:
    assert _INDEX in {index.name for index in Base.metadata.tables["bookings"].indexes}
    [made, dropped, again] = round_trip(postgres, "0024", "0023", _FOUND)
    assert made.endswith("USING btree (stripe_account_id)") and again == made
    assert dropped == ""
