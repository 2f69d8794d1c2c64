"""The organisation's seller profile: `GET/PATCH /v1/organisation` and `booking-ops organisations
show|update` read and check it here, one way for both.

A field checks itself (a known country, currency, locale, zone; a prefix's shape; a logo's
base64); `profile_changes` then checks what depends on the stored profile too (a VAT number
for the country, a VAT rate only with a VAT number, a logo that is an image, three distinct
prefixes), and store.organisations.update_profile what depends on the other organisations
(a prefix nobody else uses).
"""

import base64
import binascii
import hashlib
import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from babel import Locale
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidRequest
from core.settings import known_locale
from core.vat_numbers import check_vat_number
from documents.logo import MAX_LOGO_BYTES, InvalidLogo, LogoType, check_logo
from models.tables import Organisation
from schemas.fields import Line, Text, TimeZone, absent
from store.organisations import PREFIX_COLUMNS, update_profile

PREFIX = r"^[A-Z0-9][A-Z0-9-]{0,11}$"
COUNTRY = r"^[A-Z]{2}$"
CURRENCY = r"^[A-Z]{3}$"
# Base64 of the largest logo, padding included.
MAX_LOGO_BASE64 = 4 * ((MAX_LOGO_BYTES + 2) // 3)
# CLDR's two-letter territories that are groupings or placeholders, not countries.
_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}


@cache
def _countries() -> frozenset[str]:
    codes = [str(code) for code in Locale("en").territories]
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha()) - _NOT_COUNTRIES


def _known_country(value: str) -> str:
    if value not in _countries():
        raise ValueError(f"unknown country {value!r}: an ISO 3166-1 alpha-2 code, e.g. GB")
    return value


def _known_currency(value: str) -> str:
    if value not in list_currencies():
        raise ValueError(f"unknown currency {value!r}: an ISO 4217 code, e.g. GBP")
    return value


def _base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("must be the file in base64, a string")
    if len(value) > MAX_LOGO_BASE64:
        raise ValueError(f"the logo is larger than {MAX_LOGO_BYTES} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (RFC 4648, with padding)") from None


Country = Annotated[str, Field(pattern=COUNTRY, examples=["GB"]), AfterValidator(_known_country)]
CurrencyCode = Annotated[
    str, Field(pattern=CURRENCY, examples=["GBP"]), AfterValidator(_known_currency)
]
LocaleName = Annotated[
    Line, Field(min_length=2, max_length=16, examples=["en_GB"]), AfterValidator(known_locale)
]
Prefix = Annotated[str, Field(pattern=PREFIX, examples=["RFT"])]
TaxId = Annotated[Line, Field(min_length=1, max_length=32, examples=["GB980780684"])]
VatRate = Annotated[int, Field(ge=0, le=10_000, description="Basis points: 2000 is 20 %")]
AddressLine = Annotated[Line, Field(min_length=1, max_length=100)]
Footer = Annotated[Line, Field(max_length=500)]


class LogoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: LogoType
    data: Annotated[
        bytes,
        BeforeValidator(_base64),
        WithJsonSchema(
            {"type": "string", "format": "byte", "maxLength": MAX_LOGO_BASE64},
            mode="validation",
        ),
        Field(description="The file, base64"),
    ]


class OrganisationPatch(BaseModel):
    """Only the fields given change; null removes what may be removed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "legal_name": "Harbour Events Ltd",
                    "address_lines": ["3 Quay Road", "Plymouth PL1 2AB", "United Kingdom"],
                    "country": "GB",
                    "tax_id": "GB980780684",
                    "vat_rate_basis_points": 2000,
                    "reference_prefix": "HBE",
                }
            ]
        },
    )

    legal_name: Text = absent("The seller's legal name, as documents print it")
    address_lines: Annotated[list[AddressLine], Field(max_length=6)] = absent("Printed lines")
    country: Country | None = None
    tax_id: TaxId | None = Field(
        default=None, description="The VAT number, checked for the country; null: none"
    )
    vat_rate_basis_points: VatRate | None = Field(
        default=None, description="The VAT its prices include; null: not registered for VAT"
    )
    default_currency: CurrencyCode = absent("New sessions' currency unless they name one")
    locale: LocaleName = absent("How documents and emails write dates and money (CLDR)")
    time_zone: TimeZone = absent("New sessions' time zone unless they name one")
    email_sender_name: Text = absent("The name emails come from")
    reply_to: EmailStr | None = None
    footer: Footer | None = None
    reference_prefix: Prefix = absent("Booking references: PREFIX-2026-0001")
    receipt_prefix: Prefix = absent("Receipt numbers: PREFIX-2026-000001")
    credit_note_prefix: Prefix = absent("Credit note numbers: PREFIX-2026-000001")
    logo: LogoIn | None = Field(
        default=None, description="A PNG or SVG of at most 256 KiB; null removes it"
    )


class LogoOut(BaseModel):
    content_type: LogoType
    bytes: int
    sha256: str


class PlatformFeeOut(BaseModel):
    basis_points: int = Field(description="The platform's share of each payment")
    fixed: int = Field(description="Plus this, in minor units of the payment's currency")


class OrganisationOut(BaseModel):
    id: uuid.UUID
    name: str = Field(description="Its name on the platform (read-only)")
    legal_name: str
    address_lines: list[str]
    country: str | None
    tax_id: str | None
    vat_rate_basis_points: int | None
    default_currency: str
    locale: str
    time_zone: str
    email_sender_name: str
    reply_to: str | None
    footer: str | None
    reference_prefix: str
    receipt_prefix: str
    credit_note_prefix: str
    logo: LogoOut | None = Field(description="GET /v1/organisation/logo serves it")
    stripe_account_id: str | None = Field(
        description="Its connected Stripe account (set by an operator); null: the platform's"
    )
    platform_fee: PlatformFeeOut = Field(description="Set by an operator")
    profile_updated_at: datetime | None


def organisation_out(organisation: Organisation) -> OrganisationOut:
    """The profile as answered; the organisation's logo must be loaded (not deferred)."""
    logo = None
    if organisation.logo is not None and organisation.logo_content_type is not None:
        logo = LogoOut(
            content_type=LogoType(organisation.logo_content_type),
            bytes=len(organisation.logo),
            sha256=hashlib.sha256(organisation.logo).hexdigest(),
        )
    columns = {name: getattr(organisation, name) for name in _COLUMNS_AS_THEY_ARE}
    fee = PlatformFeeOut(
        basis_points=organisation.platform_fee_basis_points, fixed=organisation.platform_fee_fixed
    )
    return OrganisationOut(**columns, logo=logo, platform_fee=fee)


# The answer's fields that are the organisation's columns of the same name.
_COLUMNS_AS_THEY_ARE = set(OrganisationOut.model_fields) - {"logo", "platform_fee"}


def profile_changes(organisation: Organisation, patch: OrganisationPatch) -> dict[str, Any]:
    """The columns `patch` changes, checked against the profile as it will be; InvalidRequest
    (422, each field named) when they do not fit together."""
    changes: dict[str, Any] = {
        name: getattr(patch, name) for name in patch.model_fields_set if name != "logo"
    }
    after = {name: changes.get(name, getattr(organisation, name)) for name in _RELATED}
    problems: dict[str, str] = {}
    if changes.keys() & {"country", "tax_id"} and after["tax_id"] is not None:
        if after["country"] is None:
            problems["tax_id"] = "a VAT number needs the organisation's country"
        else:
            try:
                check_vat_number(after["country"], after["tax_id"])
            except ValueError as err:
                problems["tax_id"] = str(err)
    rate_changes = changes.keys() & {"tax_id", "vat_rate_basis_points"}
    if rate_changes and after["vat_rate_basis_points"] is not None and after["tax_id"] is None:
        problems["vat_rate_basis_points"] = (
            "a VAT rate needs a tax_id (the VAT number); null: not registered for VAT"
        )
    for column in [column for column in PREFIX_COLUMNS if column in changes]:
        same = [
            other for other in PREFIX_COLUMNS if other != column and after[other] == after[column]
        ]
        if same:
            problems[column] = f"is the organisation's {same[0]} already"
    if "logo" in patch.model_fields_set:
        changes |= _logo_changes(patch.logo, problems)
    if problems:
        fields = ", ".join(problems)
        raise InvalidRequest(
            f"{fields}: {'; '.join(problems.values())}",
            errors=[{"field": f"body.{name}", "message": msg} for name, msg in problems.items()],
        )
    return changes


# The fields whose checks depend on one another.
_RELATED = ("country", "tax_id", "vat_rate_basis_points", *PREFIX_COLUMNS)


def _logo_changes(logo: LogoIn | None, problems: dict[str, str]) -> dict[str, Any]:
    if logo is None:
        return {"logo": None, "logo_content_type": None}
    try:
        kind = check_logo(logo.data, logo.content_type)
    except InvalidLogo as err:
        problems["logo"] = str(err)
        return {}
    return {"logo": logo.data, "logo_content_type": kind.value}


async def change_profile(
    db: AsyncSession, organisation: Organisation, patch: OrganisationPatch
) -> Organisation:
    """Check `patch` against the organisation's profile and write it: InvalidRequest (422) or
    PrefixInUse (409) change nothing. The row is locked and read again first: two changes at
    once are checked one after the other (a rate and the removal of its VAT number cannot
    both pass)."""
    await db.refresh(organisation, with_for_update=True)
    return await update_profile(db, organisation, profile_changes(organisation, patch))
