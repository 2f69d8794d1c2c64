"""`booking-ops organisations set-stripe-account`: an organisation is paid into its connected
account with the platform's fee from its next booking, checked at Stripe first; bad input is
one line and exit 2, and changes nothing."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from models.tables import Organisation
from tests.helpers.connect import new_account
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error

Db = async_sessionmaker[AsyncSession]
SET = ("organisations", "set-stripe-account")


async def terms(db: Db, organisation_id: str) -> tuple[str | None, int, int]:
    async with db() as s:
        found = await s.get(Organisation, uuid.UUID(organisation_id))
    assert found is not None
    return found.stripe_account_id, found.platform_fee_basis_points, found.platform_fee_fixed


async def test_an_organisation_is_set_to_its_account_and_back(settings: Settings, db: Db) -> None:
    name = f"Harbour {uuid.uuid4().hex[:8]}"
    made = ok_json(await booking_ops(settings, "organisations", "create", name, "--json"))
    account = new_account()

    fees = ("--fee-basis-points", "250", "--fee-fixed", "20")
    answer = ok_json(await booking_ops(settings, *SET, name, account, *fees, "--json"))
    assert (answer["id"], answer["stripe_account_id"]) == (made["id"], account)
    assert await terms(db, made["id"]) == (account, 250, 20)
    # A fee left out stays as it is.
    shown = ok(await booking_ops(settings, *SET, made["id"], account, "--fee-fixed", "0"))
    assert account in shown
    assert await terms(db, made["id"]) == (account, 250, 0)

    other = ok_json(await booking_ops(settings, "organisations", "create", f"{name} 2", "--json"))
    taken = await booking_ops(settings, *SET, other["id"], account)
    one_line_error(taken, 2, f"{account} is already the account of {name!r}")
    assert await terms(db, other["id"]) == (None, 0, 0)

    cleared = ok_json(await booking_ops(settings, *SET, name, "--clear", "--json"))
    assert cleared["stripe_account_id"] is None
    assert await terms(db, made["id"]) == (None, 250, 0)


async def test_bad_input_is_one_line_and_changes_nothing(settings: Settings, db: Db) -> None:
    name = f"Harbour {uuid.uuid4().hex[:8]}"
    made = ok_json(await booking_ops(settings, "organisations", "create", name, "--json"))
    account = new_account()
    refused = {
        "not an account": ((name, "cus_123"), "is not a Stripe account id"),
        "neither": ((name,), "give either ACCOUNT_ID or --clear"),
        "both": ((name, account, "--clear"), "give either ACCOUNT_ID or --clear"),
        "a fee on the platform": ((name, "--clear", "--fee-fixed", "5"), "no fee with --clear"),
        "no such organisation": (("Nobody At All", account), "no organisation 'Nobody At All'"),
        "a rate above 100 %": ((name, account, "--fee-basis-points", "10001"), "10000"),
        "a negative fee": ((name, account, "--fee-fixed", "-1"), "--fee-fixed"),
    }
    for what, (args, complaint) in refused.items():
        result = await booking_ops(settings, *SET, *args)
        assert result.exit_code == 2, what
        one_line_error(result, 2, complaint)
    assert await terms(db, made["id"]) == (None, 0, 0)
