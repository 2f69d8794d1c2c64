"""Gapless numbers per organisation and year (references, receipt and credit-note numbers),
and the database clock."""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import DocumentKind
from models.tables import Organisation, ReferenceCounter

BOOKING_SEQUENCE = "booking"
CERTIFICATE_SEQUENCE = "certificate"


async def next_in_sequence(
    db: AsyncSession, organisation_id: uuid.UUID, name: str, year: int
) -> int:
    """The next number of the organisation's `name` for `year`. The row lock makes concurrent
    callers take turns, and a rolled-back transaction gives its number back: no gaps."""
    statement = (
        insert(ReferenceCounter)
        .values(organisation_id=organisation_id, name=name, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=["organisation_id", "name", "year"],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(ReferenceCounter.last_value)
    )
    value = await db.scalar(statement)
    assert value is not None
    return value


async def next_reference(db: AsyncSession, organisation: Organisation, year: int) -> str:
    """A booking's human reference: `RFT-2026-0001`."""
    seq = await next_in_sequence(db, organisation.id, BOOKING_SEQUENCE, year)
    return f"{organisation.reference_prefix}-{year}-{seq:04d}"


async def next_document_number(
    db: AsyncSession, organisation: Organisation, kind: DocumentKind, year: int
) -> str:
    """A receipt's or credit note's number: `R-2026-000001`, `CN-2026-000001`."""
    prefix = {
        DocumentKind.RECEIPT: organisation.receipt_prefix,
        DocumentKind.CREDIT_NOTE: organisation.credit_note_prefix,
    }[kind]
    seq = await next_in_sequence(db, organisation.id, kind, year)
    return f"{prefix}-{year}-{seq:06d}"


async def next_certificate_number(db: AsyncSession, organisation: Organisation, year: int) -> str:
    """A certificate of attendance's number: `RFT-C-2026-000001` (the booking references'
    prefix, unique across organisations, and `-C`)."""
    seq = await next_in_sequence(db, organisation.id, CERTIFICATE_SEQUENCE, year)
    return f"{organisation.reference_prefix}-C-{year}-{seq:06d}"


async def database_now(db: AsyncSession) -> datetime:
    """The database's clock: one clock for every hold, whichever worker runs the activity."""
    now = await db.scalar(select(func.now()))
    assert now is not None
    return now
