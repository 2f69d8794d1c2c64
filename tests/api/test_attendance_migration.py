"""Migration 0019: attendance, certificates, the certifying field and the `attendee.no_show`
event type come and go (down to the revision before it, and up again)."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, scratch_database

_TABLES = "SELECT count(*) FROM pg_tables WHERE tablename IN ('attendance', 'certificates')"
_COLUMN = (
    "SELECT count(*) FROM information_schema.columns"
    " WHERE table_name = 'sessions' AND column_name = 'certifying'"
)
_EVENT_TYPES = (
    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'webhook_event_type_known'"
)


def test_migration_0019_is_reversible(postgres: Cluster) -> None:
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "head")
        assert (sql(_TABLES), sql(_COLUMN)) == ("2", "1")
        assert "attendee.no_show" in sql(_EVENT_TYPES)
        alembic(url, "downgrade", "0019-1")
        assert (sql(_TABLES), sql(_COLUMN)) == ("0", "0")
        assert "attendee.no_show" not in sql(_EVENT_TYPES)
        assert "attendee.checked_in" in sql(_EVENT_TYPES)
        alembic(url, "upgrade", "head")
        assert (sql(_TABLES), sql(_COLUMN)) == ("2", "1")
