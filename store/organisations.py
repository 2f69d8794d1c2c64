"""Organisations (tenants): create, list, find one by id or name, change its seller profile."""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from core.errors import InvalidRequest, PrefixInUse
from core.settings import Settings
from models.tables import Organisation
from store.sequences import database_now

# Created by migration 0003: rows that existed before organisations did belong to it, and so do
# sessions created without naming an organisation (tests, the bench, the dev bootstrap keys).
DEFAULT_ORGANISATION_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class OrganisationNotFound(LookupError):
    pass


@dataclass(frozen=True)
class PlatformDefaults:
    """What a new organisation's seller profile starts with (the platform's settings)."""

    currency: str = "GBP"
    locale: str = "en_GB"
    time_zone: str = "UTC"

    @classmethod
    def of(cls, settings: Settings) -> "PlatformDefaults":
        return cls(settings.default_currency, settings.locale, settings.default_time_zone)


async def create_organisation(
    db: AsyncSession,
    name: str,
    organisation_id: uuid.UUID | None = None,
    defaults: PlatformDefaults = PlatformDefaults(),
) -> Organisation:
    """A new organisation; its name must be free (InvalidRequest otherwise).

    Its profile starts as its name, not registered for VAT (no VAT number yet), with prefixes
    made from its initials: the organiser completes it with PATCH /v1/organisation.
    """
    name = " ".join(name.split())
    if not name:
        raise InvalidRequest("an organisation needs a name")
    prefix = await _free_prefix(db, name)
    organisation = Organisation(
        id=organisation_id or uuid.uuid4(),
        name=name,
        legal_name=name,
        email_sender_name=name,
        vat_rate_basis_points=None,
        default_currency=defaults.currency,
        locale=defaults.locale,
        time_zone=defaults.time_zone,
        reference_prefix=prefix,
        receipt_prefix=f"{prefix}-R",
        credit_note_prefix=f"{prefix}-CN",
    )
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


async def find_organisation(
    db: AsyncSession, id_or_name: str, with_logo: bool = False
) -> Organisation:
    """The organisation with this id, else the one with this name, else OrganisationNotFound.
    `with_logo` loads its logo's bytes too (deferred otherwise: most readers never draw it)."""
    options = [undefer(Organisation.logo)] if with_logo else []
    try:
        found = await db.get(Organisation, uuid.UUID(id_or_name), options=options)
    except ValueError:
        found = await db.scalar(
            select(Organisation).where(Organisation.name == id_or_name).options(*options)
        )
    if found is None:
        raise OrganisationNotFound(f"no organisation {id_or_name!r}")
    return found


PREFIX_COLUMNS = ("reference_prefix", "receipt_prefix", "credit_note_prefix")


async def update_profile(
    db: AsyncSession, organisation: Organisation, changes: dict[str, Any]
) -> Organisation:
    """Write `changes` (column -> value, each already checked) to the organisation's profile
    and stamp profile_updated_at. A prefix another organisation uses, in any of the three
    roles, is PrefixInUse (409) and nothing is written. Counters are per organisation and
    sequence, not per prefix: a new prefix continues the numbers."""
    if changes.keys() & set(PREFIX_COLUMNS):
        # One change of prefixes at a time: two organisations cannot both take a free one.
        await db.execute(select(func.pg_advisory_xact_lock(func.hashtext("organisation prefixes"))))
        taken = await prefixes_in_use(db, but=organisation.id)
        for column in PREFIX_COLUMNS:
            if changes.get(column) in taken:
                raise PrefixInUse(
                    f"{column} {changes[column]!r} is used by another organisation",
                    errors=[
                        {"field": f"body.{column}", "message": "is used by another organisation"}
                    ],
                )
    now = await database_now(db)
    for column, value in changes.items():
        setattr(organisation, column, value)
    organisation.profile_updated_at = now
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise PrefixInUse("a prefix is used by another organisation") from None
    return organisation


async def prefixes_in_use(db: AsyncSession, but: uuid.UUID | None = None) -> set[str]:
    """Every reference and document prefix of the organisations other than `but`."""
    query = select(
        Organisation.reference_prefix, Organisation.receipt_prefix, Organisation.credit_note_prefix
    )
    if but is not None:
        query = query.where(Organisation.id != but)
    rows = await db.execute(query)
    return {prefix for row in rows for prefix in row}


async def _free_prefix(db: AsyncSession, name: str) -> str:
    """The initials of `name` (up to four letters; ORG without any), numbered until free."""
    taken = await prefixes_in_use(db)
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z]+", name))[:4].upper() or "ORG"
    prefix, n = initials, 1
    while {prefix, f"{prefix}-R", f"{prefix}-CN"} & taken:
        n += 1
        prefix = f"{initials}{n}"
    return prefix


def missing_seller_details(organisation: Organisation) -> list[str]:
    """What its receipts could not print: a legal name, an address and a country, and the VAT
    number of a seller that charges VAT (a receipt must name the seller who owes it)."""
    missing = [
        field
        for field, value in (
            ("legal_name", organisation.legal_name.strip()),
            ("address_lines", organisation.address_lines),
            ("country", organisation.country),
        )
        if not value
    ]
    if organisation.vat_rate_basis_points is not None and not organisation.tax_id:
        missing.append("tax_id")
    return missing
