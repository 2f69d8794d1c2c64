"""The emails the fake SendGrid accepted for a booking, read as they are, or once the booking is
at rest: "exactly these emails" holds only when nothing more is on its way."""

from temporalio.client import Client

from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.polling import eventually
from tests.helpers.workflow_rest import settled


def emails_for(sendgrid: FakeSendGrid, booking_id: str) -> list[str]:
    """The kinds of email accepted so far for a booking, oldest first."""
    return [
        r.body["custom_args"]["notification_key"].split(":", 1)[1]
        for r in sendgrid.requests
        if r.body.get("custom_args", {}).get("notification_key", "").startswith(booking_id)
    ]


async def emails_at_rest(
    sendgrid: FakeSendGrid, temporal: Client, booking_id: str, within: float = 10
) -> list[str]:
    """The booking's emails once at least one has arrived and its workflow is at rest (closed,
    or with no activity or workflow task due): a duplicate (a retried send, a step run twice)
    is in the list by then, since each send completes before its step does."""
    await eventually(
        lambda: _listed(sendgrid, booking_id), within=within, what=f"an email of {booking_id}"
    )
    await settled(temporal, booking_id, within=within)
    return emails_for(sendgrid, booking_id)


async def _listed(sendgrid: FakeSendGrid, booking_id: str) -> list[str]:
    return emails_for(sendgrid, booking_id)


async def emails_with(
    sendgrid: FakeSendGrid, booking_id: str, kind: str, within: float = 10
) -> list[str]:
    """The booking's emails once one of `kind` is among them."""
    return await eventually(
        lambda: _listed(sendgrid, booking_id),
        lambda kinds: kind in kinds,
        within=within,
        what=f"a {kind} email of {booking_id}",
    )
