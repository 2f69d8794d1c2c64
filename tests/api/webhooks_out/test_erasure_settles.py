"""Erasure right after a cancel (issue 17, case 13): the booking is closed but its cancellation
email and its `booking.cancelled` delivery are still on their way, so it is not erased yet
(`settling`); once both are out, with the customer's own address and data, it is."""

import uuid

import httpx
from sqlalchemy import select

from core.enums import NotificationStatus
from models.tables import Notification
from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import accepted_about, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import erase_at_rest
from tests.helpers.emails import emails_with
from tests.helpers.stack import Stack


async def test_erasure_waits_for_the_cancellation_email_and_webhook(
    stack: Stack,
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
) -> None:
    await register("shop", ["booking.created", "booking.cancelled"])
    email = f"erase-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "session_id": await stack.new_session(),
        "quantity": 1,
        "customer": {"name": "Grace Hopper", "email": email},
    }
    booking_id = (await stack.api.post("/v1/bookings", json=body)).json()["id"]
    await wait_for(accepted_about(receiver, "shop", booking_id), 1)  # booking.created is out
    receiver.fail_next(3)  # booking.cancelled is retried a while
    stack.sendgrid.fail_next(2)  # and so is the cancellation email

    assert (await stack.api.post(f"/v1/bookings/{booking_id}/cancel", json={})).status_code == 200
    erased = await admin.post("/v1/customers/erase", json={"email": email})

    assert erased.status_code == 200, erased.text
    assert (erased.json()["erased"], erased.json()["settling"]) == ([], [booking_id])
    # It raced: neither was out when erasure answered.
    assert len(await wait_for(accepted_about(receiver, "shop", booking_id), 2)) == 2
    await emails_with(stack.sendgrid, booking_id, "cancelled", within=20)
    cancelled = [r for r in stack.sendgrid.requests if booking_id in str(r.body.get("custom_args"))]
    assert cancelled[-1].body["personalizations"][0]["to"][0]["email"] == email
    told = accepted_about(receiver, "shop", booking_id)()[-1]
    assert told.type == "booking.cancelled"
    assert told.body["data"]["booking"]["customer"]["email"] == email

    await erase_at_rest(admin, email, booking_id)
    async with stack.db() as session:
        sent = await session.scalars(
            select(Notification.status).where(Notification.booking_id == uuid.UUID(booking_id))
        )
        assert set(sent) == {NotificationStatus.SENT}
    assert (await stack.api.get(f"/v1/bookings/{booking_id}")).json()["customer"][
        "name"
    ] == "erased"
