"""`booking-ops customers`: one customer's personal data in one organisation, exported as JSON or
erased from the bookings that are over (store/personal_data.py says what is kept and why)."""

from dataclasses import asdict
from typing import Annotated, Any

import typer

from clients.workflow_rest import busy_bookings
from ops.commands.display import print_json
from ops.commands.runtime import BAD_USAGE, database, fail, run, settings_or_exit, temporal_client
from store.organisations import OrganisationNotFound, find_organisation
from store.personal_data import Erasure, erase_customer, export_customer

customers = typer.Typer(
    help="Export or erase one customer's personal data (GDPR requests).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Email = Annotated[str, typer.Argument(help="The customer's email address (any case).")]
Organisation = Annotated[
    str, typer.Option("--organisation", "-o", help="The organisation's id or name.")
]


@customers.command()
def export(email: Email, organisation: Organisation) -> None:
    """Print everything held about the customer in the organisation, as JSON."""
    print_json(run(_in_organisation(organisation, lambda db, org: export_customer(db, org, email))))


@customers.command()
def erase(
    email: Email,
    organisation: Organisation,
    yes: Annotated[
        bool, typer.Option("--yes", help="Erasure cannot be undone: confirm it.")
    ] = False,
) -> None:
    """Erase the customer's names and emails from bookings that are over; receipts and credit
    notes stay (accounting law). Open bookings, and closed ones still sending their last email
    or webhooks (settling), are listed, untouched: repeat once they are at rest."""
    if not yes:
        fail("erasure cannot be undone: add --yes", BAD_USAGE)
    print_json(asdict(run(_erase(organisation, email))))


async def _erase(organisation: str, email: str) -> Erasure:
    temporal = await temporal_client(settings_or_exit())
    return await _in_organisation(  # type: ignore[no-any-return]
        organisation,
        lambda db, org: erase_customer(db, org, email, lambda ids: busy_bookings(temporal, ids)),
        write=True,
    )


async def _in_organisation(id_or_name: str, work: Any, *, write: bool = False) -> Any:
    settings = settings_or_exit()
    async with database(settings) as db, db.begin() as session:
        try:
            owner = await find_organisation(session, id_or_name)
        except OrganisationNotFound as err:
            fail(str(err), BAD_USAGE)
        result = await work(session, owner.id)
        if not write:
            await session.rollback()
        return result
