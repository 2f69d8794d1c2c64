"""Migration 0021: a session's changes, its calendar sequence and the two event types come
and go."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, scratch_database

_TABLE = "SELECT count(*) FROM pg_tables WHERE tablename = 'session_changes'"
_EVENT_TYPES = (
    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'webhook_event_type_known'"
)


def test_migration_0021_is_reversible(postgres: Cluster) -> None:
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "head")
        assert sql(_TABLE) == "1"
        assert "session.updated" in sql(_EVENT_TYPES) and "booking.updated" in sql(_EVENT_TYPES)
        alembic(url, "downgrade", "0016")
        assert sql(_TABLE) == "0"
        assert "session.updated" not in sql(_EVENT_TYPES)
        assert "attendee.checked_in" in sql(_EVENT_TYPES)
        alembic(url, "upgrade", "head")
        assert sql(_TABLE) == "1"
