"""The test database's schema, moved by alembic as an operator would, in a database of its own
for the migration tests."""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from core.settings import PROJECT_ROOT
from devstack.postgres import Cluster


def alembic(url: str, *command: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", *command],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )


class Scratch(NamedTuple):
    url: str  # for `alembic`
    sql: Callable[[str], str]  # one statement, its output as psql prints it


@contextmanager
def scratch_database(postgres: Cluster) -> Iterator[Scratch]:
    """An empty database on the session's cluster, dropped afterwards."""
    database = f"migration_{uuid.uuid4().hex[:8]}"
    postgres.psql(f"CREATE DATABASE {database} OWNER booking")

    def sql(statement: str) -> str:
        return postgres.psql(statement, database=database)

    try:
        yield Scratch(postgres.url.rsplit("/", 1)[0] + f"/{database}", sql)
    finally:
        postgres.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def round_trip(postgres: Cluster, revision: str, previous: str, query: str) -> list[str]:
    """`query`'s answer in a new database upgraded to `revision`, then downgraded to
    `previous`, then upgraded to head: a migration that comes and goes."""
    answers = []
    with scratch_database(postgres) as (url, sql):
        for command, target in (
            ("upgrade", revision),
            ("downgrade", previous),
            ("upgrade", "head"),
        ):
            alembic(url, command, target)
            answers.append(sql(query))
    return answers
