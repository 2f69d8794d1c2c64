"""A booking moved to another session is announced once, after its confirmation, naming the
session it is now of."""

from datetime import UTC, datetime, timedelta

from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import accepted_about, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.stack import Stack


async def test_a_move_is_announced_as_booking_moved(
    stack: Stack, register: Register, receiver: WebhookReceiver
) -> None:
    starts = datetime.now(UTC) + timedelta(days=30)
    source, target = await session_with(stack.api, starts), await session_with(stack.api, starts)
    await register("moves", events=["booking.confirmed", "booking.moved"])
    booking = await paid_booking(stack.api, stack.stripe_client, source, 1)

    moved = await stack.api.post(f"/v1/bookings/{booking['id']}/move", json={"session_id": target})

    assert moved.status_code == 200, moved.text
    received = await wait_for(accepted_about(receiver, "moves", booking["id"]), 2)
    assert [r.body["type"] for r in received] == ["booking.confirmed", "booking.moved"]
    assert received[1].body["data"]["booking"]["session_id"] == target
