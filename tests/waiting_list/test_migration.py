"""Migration 0014: the waiting list's tables and the `offered` place state come and go."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, scratch_database

_SEAT_CHECKS = (
    "SELECT string_agg(pg_get_constraintdef(oid), ' ' ORDER BY conname) FROM pg_constraint"
    " WHERE conrelid = 'seats'::regclass AND contype = 'c'"
)


def test_migration_0014_is_reversible(postgres: Cluster) -> None:
    table = "SELECT count(*) FROM pg_tables WHERE tablename = 'waiting_list_entries'"
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "head")
        assert sql(table) == "1"
        assert "offered" in sql(_SEAT_CHECKS)
        alembic(url, "downgrade", "0013")
        assert sql(table) == "0"
        assert "offered" not in sql(_SEAT_CHECKS)
        alembic(url, "upgrade", "head")
        assert sql(table) == "1"
