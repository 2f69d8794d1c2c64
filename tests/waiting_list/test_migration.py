"""The waiting list's migrations: 0014 (its tables and the `offered` place state), 0017
(its webhook event types) and 0025 (the count of an offer's caps) come and go."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, round_trip, scratch_database

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


def test_migration_0017_adds_the_waitlist_events_and_takes_them_back(postgres: Cluster) -> None:
    """Migration 0017: the `waitlist.*` webhook event types."""
    checks = (
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname = 'webhook_event_type_known'"
    )
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "head")
        assert "waitlist.offered" in sql(checks) and "attendee.checked_in" in sql(checks)
        alembic(url, "downgrade", "0016")
        assert "waitlist" not in sql(checks) and "attendee.checked_in" in sql(checks)
        alembic(url, "upgrade", "head")
        assert "waitlist.left" in sql(checks)


def test_migration_0025_counts_caps_from_0_and_takes_the_count_back(postgres: Cluster) -> None:
    column = (
        "SELECT column_default FROM information_schema.columns"
        " WHERE table_name = 'waiting_list_entries' AND column_name = 'offer_caps'"
    )
    assert round_trip(postgres, "0025", "0024", column) == ["0", "", "0"]
