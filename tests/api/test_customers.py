"""A customer's personal data (issue 10): exported whole, erased from closed bookings only,
receipts kept; another organisation sees nothing of it; the CLI asks before erasing."""

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from clients.workflow_rest import busy_bookings
from models.tables import Booking, Notification
from ops.cli import app as booking_ops
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.conftest import CLIENT_KEY, OTHER_ADMIN_KEY
from tests.helpers.api_bookings import booking_body, erase_at_rest, start_booking
from tests.helpers.emails import emails_with
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops as run_booking_ops
from tests.ops.cli_helpers import ok_json

Db = async_sessionmaker[AsyncSession]
EMAIL = {"email": "  ADA@example.com "}  # any spelling of the address finds the customer


async def test_export_then_erase_what_is_over_and_keep_what_is_open(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=6)
    over = await start_booking(stack.api, session_id, 2)
    assert (await stack.api.post(f"/v1/bookings/{over['id']}/cancel")).status_code == 200
    still_open = await start_booking(stack.api, session_id, 1)
    await emails_with(stack.sendgrid, over["id"], "cancelled", within=5)

    exported = await stack.api.post("/v1/customers/export", json=EMAIL, headers=ADMIN)
    assert exported.status_code == 200, exported.text
    mine = {b["id"]: b for b in exported.json()["bookings"]}
    assert {over["id"], still_open["id"]} <= set(mine)
    assert mine[over["id"]]["customer"] == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert any(
        e["booking_id"] == over["id"] and e["kind"] == "cancelled"
        for e in exported.json()["emails"]
    )

    erased = await erase_at_rest(stack.api, EMAIL["email"], over["id"])

    assert still_open["id"] in erased["still_open"]
    assert "receipts" in erased["retained"]
    async with stack.db() as s:
        gone = await s.get(Booking, uuid.UUID(over["id"]))
        kept = await s.get(Booking, uuid.UUID(still_open["id"]))
        recipients = set(
            await s.scalars(
                select(Notification.recipient).where(
                    Notification.booking_id == uuid.UUID(over["id"])
                )
            )
        )
    assert gone is not None and gone.customer_name == "erased"
    assert "ada@" not in gone.customer_email  # its erased form is made of a uuid: "ada" may be hex
    assert recipients == {"erased"}
    assert kept is not None and kept.customer_email == "ada@example.com"


async def test_another_organisation_finds_nothing_and_clients_may_not_ask(stack: Stack) -> None:
    ours = await start_booking(stack.api, await stack.new_session(capacity=2), 1)
    other = {"Authorization": f"Bearer {OTHER_ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=other) as admin_elsewhere:
        exported = await admin_elsewhere.post("/v1/customers/export", json=EMAIL)
        theirs = await admin_elsewhere.get(
            "/v1/bookings", params={"customer_email": EMAIL["email"].strip(), "limit": 100}
        )
    # Other tests may book for the same customer in the other organisation: only those show.
    exported_ids = {b["id"] for b in exported.json()["bookings"]}
    assert exported.status_code == 200 and ours["id"] not in exported_ids
    assert exported_ids <= {b["id"] for b in theirs.json()["items"]}
    as_client = await stack.api.post(
        "/v1/customers/erase", json=EMAIL, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert as_client.status_code == 403


def test_the_command_will_not_erase_without_yes() -> None:
    result = CliRunner().invoke(
        booking_ops, ["customers", "erase", "ada@example.com", "-o", "Default"]
    )
    assert result.exit_code == 2
    assert "add --yes" in result.output


async def test_the_command_erases_a_closed_booking_once_it_is_at_rest(stack: Stack) -> None:
    email = f"ŞTRAßE.{uuid.uuid4().hex[:8]}@example.com"
    body = booking_body(await stack.new_session(), customer={"name": "Ada", "email": email})
    booking_id = (await stack.api.post("/v1/bookings", json=body)).json()["id"]
    assert (await stack.api.post(f"/v1/bookings/{booking_id}/cancel")).status_code == 200

    async def erase() -> Any:
        organisation = str(DEFAULT_ORGANISATION_ID)
        command = ("customers", "erase", email.casefold(), "-o", organisation, "--yes")
        return ok_json(await run_booking_ops(stack.settings, *command))

    erasure = await eventually(
        erase, lambda erasure: not erasure["settling"], within=20, every=0.2, what="at rest"
    )
    assert (erasure["erased"], erasure["still_open"], erasure["settling"]) == ([booking_id], [], [])


async def test_a_workflow_is_busy_while_an_activity_is_pending_and_at_rest_when_it_waits(
    stack: Stack,
) -> None:
    session_id = await stack.new_session(capacity=2)
    waiting, sending = (
        await start_booking(stack.api, session_id),
        await start_booking(stack.api, session_id),
    )
    assert (await stack.api.post(f"/v1/bookings/{waiting['id']}/cancel")).status_code == 200
    await emails_with(stack.sendgrid, waiting["id"], "cancelled", within=10)
    stack.sendgrid.fail_next(3)  # its cancellation email is retried: an activity stays pending
    assert (await stack.api.post(f"/v1/bookings/{sending['id']}/cancel")).status_code == 200

    busy = await busy_bookings(stack.temporal, [waiting["id"], sending["id"], str(uuid.uuid4())])

    # The first waits out its late-payment window (a timer); a missing workflow is at rest.
    assert busy == {sending["id"]}
    await emails_with(stack.sendgrid, sending["id"], "cancelled", within=20)
