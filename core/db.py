"""The async SQLAlchemy engine and session factory, built once per process from settings."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.errors import InvalidRequest
from core.settings import Settings


def make_engine(settings: Settings, *, pre_ping: bool = True) -> AsyncEngine:
    """`pre_ping` tests each connection as it leaves the pool (a round trip per transaction).

    The worker goes without: an activity whose connection died with a database restart fails
    that attempt before writing anything, the pool drops its connections, and the retry runs on
    a fresh one.
    """
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=pre_ping,
        # Errors would otherwise quote the statement's parameters (customers' names and emails)
        # into exceptions, and so into logs and Temporal failures.
        hide_parameters=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# SQLSTATE classes no retry can mend: 22 data exception (e.g. a NUL byte in text, a number out
# of range), 23 integrity constraint violation.
_PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23"})


# SQLSTATEs of a database that cannot serve anyone for now: class 08 connection exception,
# 53300 too many connections, 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
# now (starting up, shutting down, in recovery). asyncpg raises them as PostgresError, which
# SQLAlchemy wraps as a plain DBAPIError, no OperationalError.
_UNREACHABLE_SQLSTATE_CLASSES = frozenset({"08"})
_UNREACHABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})


def _sqlstate(err: DBAPIError) -> str:
    return getattr(err.orig, "sqlstate", None) or ""


def is_unreachable(err: DBAPIError) -> bool:
    """Whether the database refused `err` because it is down, restarting or full, so that
    the same statement may succeed a moment later."""
    sqlstate = _sqlstate(err)
    return (
        err.connection_invalidated
        or sqlstate[:2] in _UNREACHABLE_SQLSTATE_CLASSES
        or sqlstate in _UNREACHABLE_SQLSTATES
    )


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """`sessionmaker.begin()`, raising what can never succeed as a non-retryable InvalidRequest.

    Without this, an activity would retry a write PostgreSQL will always refuse, forever.
    """
    try:
        async with sessionmaker.begin() as db:
            yield db
    except DBAPIError as err:
        sqlstate = _sqlstate(err)
        if sqlstate[:2] not in _PERMANENT_SQLSTATE_CLASSES:
            raise
        raise InvalidRequest(f"the database refused the data ({sqlstate}): {err.orig}") from err
