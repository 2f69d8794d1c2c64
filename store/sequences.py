"""Gapless per-year counters (references, receipt numbers) and the database clock."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import ReferenceCounter


async def next_in_sequence(db: AsyncSession, name: str, year: int) -> int:
    """The next number of `name` for `year`. The row lock makes concurrent callers take
    turns, and a rolled-back transaction gives its number back: no gaps."""
    statement = (
        insert(ReferenceCounter)
        .values(name=name, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=["name", "year"],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(ReferenceCounter.last_value)
    )
    value = await db.scalar(statement)
    assert value is not None
    return value


async def database_now(db: AsyncSession) -> datetime:
    """The database's clock: one clock for every hold, whichever worker runs the activity."""
    now = await db.scalar(select(func.now()))
    assert now is not None
    return now
