"""`booking-ops organisations set-stripe-account`: the Stripe account an organisation is paid
into (Stripe Connect direct charges) and the platform's fee there.

The organisation's bookings made from then on are paid into that account; a booking already
made keeps the account its payment was made in (bookings.stripe_account_id), for its refunds
too. The account is checked at Stripe first: it must exist and be able to take charges (its
onboarding finished). localstripe answers any `acct_...` id as such an account.
"""

from typing import Annotated, Any

import stripe
import typer
from sqlalchemy import select

from activities.payments import make_stripe_client
from core.platform_fee import BASIS_POINTS
from core.settings import Settings
from core.stripe_accounts import ACCOUNT_ID
from models.tables import Organisation
from ops.commands.display import AsJson, console, details, print_json
from ops.commands.runtime import BAD_USAGE, database, fail, run, settings_or_exit
from store.organisations import OrganisationNotFound, find_organisation


def set_stripe_account(
    organisation: Annotated[
        str,
        typer.Argument(metavar="ORG", help="The organisation's id or name.", show_default=False),
    ],
    account_id: Annotated[
        str | None,
        typer.Argument(
            metavar="ACCOUNT_ID", help="Its connected account, acct_...", show_default=False
        ),
    ] = None,
    fee_basis_points: Annotated[
        int | None,
        typer.Option(min=0, max=BASIS_POINTS, help="The fee in basis points (250: 2.5%)."),
    ] = None,
    fee_fixed: Annotated[
        int | None, typer.Option(min=0, help="And a fixed fee per payment, in minor units.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Be paid into the platform's own account again.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Pay the organisation's new bookings into its connected Stripe account, with this fee
    (the fees left out stay as they are); --clear: into the platform's account again."""
    if clear == (account_id is not None):
        fail("give either ACCOUNT_ID or --clear", BAD_USAGE)
    if clear and (fee_basis_points is not None or fee_fixed is not None):
        fail("a fee is taken only in a connected account: no fee with --clear", BAD_USAGE)
    if account_id is not None and not ACCOUNT_ID.fullmatch(account_id):
        fail(f"{account_id!r} is not a Stripe account id (acct_...)", BAD_USAGE)
    settings = settings_or_exit()
    if account_id is not None:
        run(_check_at_stripe(settings, account_id))

    async def work() -> Organisation:
        async with database(settings) as db, db.begin() as s:
            try:
                found = await find_organisation(s, organisation)
            except OrganisationNotFound as err:
                fail(str(err), BAD_USAGE)
            holder = await s.scalar(
                select(Organisation.name).where(
                    Organisation.stripe_account_id == account_id, Organisation.id != found.id
                )
            )
            if account_id is not None and holder is not None:
                fail(f"{account_id} is already the account of {holder!r}", BAD_USAGE)
            found.stripe_account_id = account_id
            if fee_basis_points is not None:
                found.platform_fee_basis_points = fee_basis_points
            if fee_fixed is not None:
                found.platform_fee_fixed = fee_fixed
            return found

    changed = run(work())
    if as_json:
        print_json(_json(changed))
        return
    console().print(details(list(_json(changed).items())))


async def _check_at_stripe(settings: Settings, account_id: str) -> None:
    """The account exists for this platform and can take charges, else one line and exit 2."""
    client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
    try:
        account = await client.v1.accounts.retrieve_async(account_id)
    except (stripe.InvalidRequestError, stripe.PermissionError) as err:
        fail(f"Stripe has no account {account_id} for this platform: {err.user_message}", BAD_USAGE)
    if not account.charges_enabled:
        fail(f"{account_id} cannot take charges yet: its onboarding is not finished", BAD_USAGE)


def _json(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": str(organisation.id),
        "name": organisation.name,
        "stripe_account_id": organisation.stripe_account_id,
        "platform_fee_basis_points": organisation.platform_fee_basis_points,
        "platform_fee_fixed": organisation.platform_fee_fixed,
    }
