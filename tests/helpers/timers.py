"""The timer a booking workflow waits for at rest, read from its history."""

from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from messages.booking import booking_workflow_id


async def next_timer(temporal: Client, booking_id: str) -> tuple[str, datetime]:
    """The booking workflow's last timer started (what it waits for at rest): its summary and
    when it fires."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    last = None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            last = event
    assert last is not None, f"booking {booking_id} waits for no timer"
    [summary] = await temporal.data_converter.decode([last.user_metadata.summary])
    fires = last.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    return str(summary), last.event_time.ToDatetime(tzinfo=UTC) + fires
