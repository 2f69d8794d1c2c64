"""Migration 0027: a booking's place is checked in once per session (a booking that moved, at
each session it was in); down again, each place keeps its latest check-in."""

from devstack.postgres import Cluster
from tests.helpers.database import alembic, scratch_database
from tests.models.test_own_claims_migration import _SESSION, _booking

_FIRST, _SECOND = "00000000-0000-0000-0000-00000000005e", "00000000-0000-0000-0000-00000000005f"
_SECOND_SESSION = f"""
INSERT INTO sessions (id, organisation_id, kind, title, location, starts_at, ends_at, capacity,
    price_amount, currency, hold_seconds, discount_min_quantity, discount_basis_points, status)
SELECT '{_SECOND}', organisation_id, kind, title, location, starts_at, ends_at, capacity,
    price_amount, currency, hold_seconds, discount_min_quantity, discount_basis_points, status
FROM sessions WHERE id = '{_FIRST}'
"""
_CHECKED_IN = (
    "SELECT string_agg(session_id::text || '@' || extract(hour FROM checked_in_at), ' '"
    " ORDER BY checked_in_at) FROM check_ins"
)


def _check_in(session_id: str, hour: int) -> str:
    return (
        "INSERT INTO check_ins (session_id, booking_id, attendee_index, checked_in_at) VALUES"
        f" ('{session_id}', '00000000-0000-0000-0000-000000000001', 0,"
        f" '2026-12-06 {hour:02}:00+00')"
    )


def test_migration_0027_checks_a_place_in_at_each_session(postgres: Cluster) -> None:
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0027")
        sql(_SESSION)
        sql(_SECOND_SESSION)
        sql(_booking(1, total=2500, paid=2500, confirmed=True))
        sql(_check_in(_FIRST, 9))
        sql(_check_in(_SECOND, 10))  # after the booking moved
        assert sql(_CHECKED_IN) == f"{_FIRST}@9 {_SECOND}@10"

        alembic(url, "downgrade", "0026")
        assert sql(_CHECKED_IN) == f"{_SECOND}@10"
        alembic(url, "upgrade", "head")
        sql(_check_in(_FIRST, 11))
        assert sql(_CHECKED_IN) == f"{_SECOND}@10 {_FIRST}@11"
