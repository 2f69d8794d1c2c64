"""An endpoint registered for all events (the tests' default, `ALL_EVENTS`) is subscribed to
every event type an endpoint can take, the waiting list's among them, and receives them."""

from core.enums import WebhookEventType
from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import ALL_EVENTS, wait_for
from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers.api_bookings import start_booking
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl


async def test_all_events_are_every_subscribable_type_and_arrive(
    stack: Stack, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("everything")
    subscribable = {event.value for event in WebhookEventType} - {WebhookEventType.PING.value}
    assert set(endpoint["events"]) == subscribable == set(ALL_EVENTS)
    session_id = await stack.new_session(capacity=1)
    await start_booking(stack.api, session_id, 1)

    entry_id = await wl.join(stack.api, session_id, 1, "ada")

    def joined() -> list[Received]:
        return [
            r
            for r in receiver.accepted("everything")
            if r.body["type"] == "waitlist.joined"
            and r.body["data"].get("entry", {}).get("id") == entry_id
        ]

    [event] = await wait_for(joined, 1)
    assert event.body["data"]["entry"]["state"] == "waiting"
