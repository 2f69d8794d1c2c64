"""The migrated database accepts exactly the values the code's enums hold.

Each migration writes out the enum values of its day (a migration never changes with the
code), so two migrations made side by side can each widen a CHECK constraint from the same
list and the later one drop the other's value: the code then writes a value the database
refuses. The models declare every such constraint (`core.enums.sql_in`); this compares each
with the constraint the migrations left in the test database (migrated at head)."""

import re

import pytest
from sqlalchemy import CheckConstraint

from devstack.postgres import Cluster
from models.tables import Base

QUOTED = re.compile(r"'([^']*)'")


def _enum_constraints() -> list[tuple[str, str, set[str]]]:
    found = []
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            text = str(getattr(constraint, "sqltext", ""))
            if isinstance(constraint, CheckConstraint) and " IN (" in text:
                found.append((table.name, str(constraint.name), set(QUOTED.findall(text))))
    return sorted(found)  # a table's constraints are a set: the same order in every process


ENUM_CONSTRAINTS = _enum_constraints()


def test_the_models_declare_enum_constraints() -> None:
    names = {name for _, name, _ in ENUM_CONSTRAINTS}
    assert {"webhook_event_type_known", "refund_source_known", "state_known"} <= names


@pytest.mark.parametrize(
    ("table", "name", "values"), ENUM_CONSTRAINTS, ids=[f"{c[0]}.{c[1]}" for c in ENUM_CONSTRAINTS]
)
def test_the_database_allows_exactly_the_enum_values(
    postgres: Cluster, table: str, name: str, values: set[str]
) -> None:
    definition = postgres.psql(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
        f"JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = '{table}' "
        f"AND c.conname = '{name}'",
        database="booking",
    )
    assert definition, f"{table}.{name} is not in the migrated database"
    assert set(QUOTED.findall(definition)) == values
