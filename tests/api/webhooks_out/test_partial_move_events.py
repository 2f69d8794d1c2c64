"""A partial move is announced as `booking.moved` for the booking split off (with the booking
its places came from) and `booking.updated` for the booking that kept the rest."""

from datetime import UTC, datetime, timedelta

from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import accepted_about, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import paid_booking, session_with
from tests.helpers.stack import Stack


async def test_a_partial_move_announces_both_bookings(
    stack: Stack, register: Register, receiver: WebhookReceiver
) -> None:
    starts = datetime.now(UTC) + timedelta(days=30)
    source, target = await session_with(stack.api, starts), await session_with(stack.api, starts)
    await register("splits", events=["booking.confirmed", "booking.moved", "booking.updated"])
    first = await paid_booking(stack.api, stack.stripe_client, source, 3)

    moved = await stack.api.post(
        f"/v1/bookings/{first['id']}/move", json={"session_id": target, "count": 1}
    )

    assert moved.status_code == 200, moved.text
    split_id = moved.json()["moved_to"]
    (announced,) = await wait_for(accepted_about(receiver, "splits", split_id), 1)
    assert announced.body["type"] == "booking.moved"
    booking = announced.body["data"]["booking"]
    assert (booking["split_from"], booking["session_id"], booking["quantity"]) == (
        first["id"],
        target,
        1,
    )
    told = await wait_for(accepted_about(receiver, "splits", first["id"]), 2)
    assert [r.body["type"] for r in told] == ["booking.confirmed", "booking.updated"]
    kept = told[1].body["data"]["booking"]
    assert (kept["session_id"], kept["quantity"], kept["split_from"]) == (source, 2, None)
