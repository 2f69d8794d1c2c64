"""Organisations (tenants): create, list, and find one by id or name."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidRequest
from models.tables import Organisation

# Created by migration 0003: rows that existed before organisations did belong to it, and so do
# sessions created without naming an organisation (tests, the bench, the dev bootstrap keys).
DEFAULT_ORGANISATION_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class OrganisationNotFound(LookupError):
    pass


async def create_organisation(
    db: AsyncSession, name: str, organisation_id: uuid.UUID | None = None
) -> Organisation:
    """A new organisation; its name must be free (InvalidRequest otherwise)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidRequest("an organisation needs a name")
    organisation = Organisation(id=organisation_id or uuid.uuid4(), name=name)
    db.add(organisation)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise InvalidRequest(f"an organisation named {name!r} exists already") from None
    await db.refresh(organisation)  # created_at, from the database's clock
    return organisation


async def list_organisations(db: AsyncSession) -> Sequence[Organisation]:
    return (await db.scalars(select(Organisation).order_by(Organisation.created_at))).all()


async def find_organisation(db: AsyncSession, id_or_name: str) -> Organisation:
    """The organisation with this id, else the one with this name, else OrganisationNotFound."""
    try:
        found = await db.get(Organisation, uuid.UUID(id_or_name))
    except ValueError:
        found = await db.scalar(select(Organisation).where(Organisation.name == id_or_name))
    if found is None:
        raise OrganisationNotFound(f"no organisation {id_or_name!r}")
    return found
