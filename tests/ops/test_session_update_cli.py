"""`booking-ops sessions update`: a change as the API makes it, its announcement followed until
every open booking was told; a refusal is one line and changes nothing."""

from datetime import datetime, timedelta

from core.settings import Settings
from tests.helpers.api_bookings import paid_booking
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok_json, one_line_error


async def test_a_new_place_is_told_to_every_booking_and_a_refusal_changes_nothing(
    stack: Stack, settings: Settings
) -> None:
    session_id = await stack.new_session(capacity=3)
    booking = await paid_booking(stack.api, stack.stripe_client, session_id, 2)

    update = ("sessions", "update", session_id)
    updated = ok_json(await booking_ops(settings, *update, "--location", "Bath", "--json"))
    assert updated["location"] == "Bath"
    assert updated["change"]["sequence"] == 1
    assert updated["change"]["told"] == {"total": 1, "done": 1}
    keys = [r.body["custom_args"]["notification_key"] for r in stack.sendgrid.requests]
    assert keys.count(f"{booking['id']}:session_changed:1") == 1

    one_line_error(
        await booking_ops(settings, *update, "--capacity", "1"),
        1,
        "below the 2 places taken",
    )
    later = datetime.fromisoformat(updated["starts_at"]) + timedelta(days=1)
    moved = ok_json(
        await booking_ops(
            settings, *update, "--starts-at", later.isoformat(), "--capacity", "4", "--json",
        )
    )  # fmt: skip
    assert moved["availability"]["capacity"] == 4
    assert datetime.fromisoformat(moved["starts_at"]) == later
    assert moved["change"]["sequence"] == 2 and set(moved["change"]["changes"]) == {
        "starts_at",
        "ends_at",
    }
