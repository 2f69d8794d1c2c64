"""`booking-ops organisations`: make and list organisations (tenants), show and change their
seller profile, straight in PostgreSQL and checked as `PATCH /v1/organisation` checks it."""

import base64
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import BookingError, InvalidRequest
from documents.logo import InvalidLogo, check_logo
from models.tables import Organisation
from ops.commands import stripe_accounts
from ops.commands.display import AsJson, console, details, print_json, table
from ops.commands.runtime import BAD_USAGE, database, fail, run, settings_or_exit
from ops.readable import when
from ops.validation import problems
from schemas.organisations import (
    OrganisationOut,
    OrganisationPatch,
    change_profile,
    organisation_out,
)
from store.organisations import (
    OrganisationNotFound,
    PlatformDefaults,
    create_organisation,
    find_organisation,
    list_organisations,
)

organisations = typer.Typer(
    help="Make and list organisations (tenants); show and change their seller profile.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

OrganisationArgument = Annotated[
    str, typer.Argument(metavar="ORG", help="The organisation's id or name.", show_default=False)
]


async def organisation_or_exit(
    db: AsyncSession, id_or_name: str, with_logo: bool = False
) -> Organisation:
    try:
        return await find_organisation(db, id_or_name, with_logo)
    except OrganisationNotFound as err:
        fail(str(err), BAD_USAGE)


@organisations.command("create")
def create_organisation_command(
    name: Annotated[str, typer.Argument(help="Its name, unique.", show_default=False)],
    as_json: AsJson = False,
) -> None:
    """Make an organisation; then give it keys with `booking-ops keys create`."""
    settings = settings_or_exit()

    async def work() -> Organisation:
        async with database(settings) as db, db.begin() as s:
            try:
                return await create_organisation(s, name, defaults=PlatformDefaults.of(settings))
            except InvalidRequest as err:
                fail(err.detail, BAD_USAGE)

    made = run(work())
    if as_json:
        print_json(_organisation_json(made))
        return
    typer.echo(f"organisation {made.id} ({made.name})")


@organisations.command("list")
def list_organisations_command(as_json: AsJson = False) -> None:
    """Every organisation, oldest first."""
    settings = settings_or_exit()

    async def work() -> list[Organisation]:
        async with database(settings) as db, db() as s:
            return list(await list_organisations(s))

    found = run(work())
    if as_json:
        print_json([_organisation_json(o) for o in found])
        return
    rows = [(o.id, o.name, when(o.created_at)) for o in found]
    console().print(table(f"{len(found)} organisation(s)", ("id", "name", "created"), rows))


@organisations.command("show")
def show(organisation: OrganisationArgument, as_json: AsJson = False) -> None:
    """The seller profile its receipts, credit notes and emails print."""
    settings = settings_or_exit()

    async def work() -> OrganisationOut:
        async with database(settings) as db, db() as s:
            return organisation_out(await organisation_or_exit(s, organisation, with_logo=True))

    _print_profile(run(work()), as_json)


@organisations.command("update")
def update(
    organisation: OrganisationArgument,
    legal_name: Annotated[str | None, typer.Option(help="As documents print it.")] = None,
    address_line: Annotated[
        list[str] | None,
        typer.Option(help="A line of the address (repeatable; the lines replace the old ones)."),
    ] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2, e.g. GB.")] = None,
    tax_id: Annotated[str | None, typer.Option(help="The VAT number, for the country.")] = None,
    vat_rate_basis_points: Annotated[
        int | None, typer.Option(help="The VAT its prices include: 2000 is 20 %.")
    ] = None,
    not_vat_registered: Annotated[
        bool, typer.Option("--not-vat-registered", help="No VAT: documents print no VAT line.")
    ] = False,
    currency: Annotated[str | None, typer.Option(help="New sessions' currency.")] = None,
    locale: Annotated[str | None, typer.Option(help="CLDR locale, e.g. en_GB.")] = None,
    time_zone: Annotated[str | None, typer.Option(help="New sessions' IANA zone.")] = None,
    sender_name: Annotated[str | None, typer.Option(help="The name emails come from.")] = None,
    reply_to: Annotated[str | None, typer.Option(help="Where replies to emails go.")] = None,
    footer: Annotated[str | None, typer.Option(help="Printed at the foot of documents.")] = None,
    reference_prefix: Annotated[str | None, typer.Option(help="Booking references.")] = None,
    receipt_prefix: Annotated[str | None, typer.Option(help="Receipt numbers.")] = None,
    credit_note_prefix: Annotated[str | None, typer.Option(help="Credit note numbers.")] = None,
    logo: Annotated[
        Path | None, typer.Option(metavar="FILE", help="A PNG or SVG of at most 256 KiB.")
    ] = None,
    no_logo: Annotated[bool, typer.Option("--no-logo", help="Remove the logo.")] = False,
    as_json: AsJson = False,
) -> None:
    """Change the profile's fields given (the others stay), checked as PATCH /v1/organisation
    checks them. A new prefix continues the organisation's numbers."""
    settings = settings_or_exit()
    if vat_rate_basis_points is not None and not_vat_registered:
        fail("give --vat-rate-basis-points or --not-vat-registered, not both", BAD_USAGE)
    if logo is not None and no_logo:
        fail("give --logo or --no-logo, not both", BAD_USAGE)
    given: dict[str, Any] = {
        "legal_name": legal_name,
        "address_lines": address_line,
        "country": country,
        "tax_id": tax_id,
        "vat_rate_basis_points": vat_rate_basis_points,
        "default_currency": currency,
        "locale": locale,
        "time_zone": time_zone,
        "email_sender_name": sender_name,
        "reply_to": reply_to,
        "footer": footer,
        "reference_prefix": reference_prefix,
        "receipt_prefix": receipt_prefix,
        "credit_note_prefix": credit_note_prefix,
        "logo": _logo(logo) if logo else None,
    }
    fields = {name: value for name, value in given.items() if value is not None}
    if not_vat_registered:
        fields["vat_rate_basis_points"] = None
    if no_logo:
        fields["logo"] = None
    if not fields:
        fail("nothing to change: give at least one option (see --help)", BAD_USAGE)
    try:
        patch = OrganisationPatch.model_validate(fields)
    except ValidationError as err:
        fail(f"bad profile: {problems(err, 'profile')}", BAD_USAGE)

    async def work() -> OrganisationOut:
        async with database(settings) as db, db.begin() as s:
            found = await organisation_or_exit(s, organisation, with_logo=True)
            try:
                return organisation_out(await change_profile(s, found, patch))
            except BookingError as err:
                fail(f"bad profile: {err.detail}", BAD_USAGE)

    _print_profile(run(work()), as_json)


def _logo(path: Path) -> dict[str, str]:
    """The file as the API takes it; one that cannot be read or is no logo ends the command."""
    try:
        data = path.read_bytes()
    except OSError as err:
        fail(f"--logo {path}: {err.strerror or err}", BAD_USAGE)
    try:
        kind = check_logo(data)
    except InvalidLogo as err:
        fail(f"--logo {path}: {err}", BAD_USAGE)
    return {"content_type": kind.value, "data": base64.b64encode(data).decode()}


def _print_profile(profile: OrganisationOut, as_json: bool) -> None:
    if as_json:
        print_json(profile.model_dump(mode="json"))
        return
    fee = profile.platform_fee
    logo = profile.logo
    console().print(
        details(
            [
                ("id", profile.id),
                ("name", profile.name),
                ("legal name", profile.legal_name),
                ("address", " / ".join(profile.address_lines)),
                ("country", profile.country),
                ("VAT number", profile.tax_id),
                ("VAT rate", _rate(profile.vat_rate_basis_points)),
                ("currency", profile.default_currency),
                ("locale", profile.locale),
                ("time zone", profile.time_zone),
                ("sender name", profile.email_sender_name),
                ("reply to", profile.reply_to),
                ("footer", profile.footer),
                ("reference prefix", profile.reference_prefix),
                ("receipt prefix", profile.receipt_prefix),
                ("credit note prefix", profile.credit_note_prefix),
                ("logo", f"{logo.content_type}, {logo.bytes} bytes" if logo else "none"),
                ("Stripe account", profile.stripe_account_id or "the platform's"),
                ("platform fee", f"{fee.basis_points} bp + {fee.fixed} minor units"),
                ("updated", when(profile.profile_updated_at) if profile.profile_updated_at else ""),
            ]
        )
    )


def _rate(basis_points: int | None) -> str:
    if basis_points is None:
        return "not registered for VAT"
    return f"{basis_points / 100:g} %"


def _organisation_json(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": str(organisation.id),
        "name": organisation.name,
        "created_at": organisation.created_at,
    }


organisations.command("set-stripe-account")(stripe_accounts.set_stripe_account)
