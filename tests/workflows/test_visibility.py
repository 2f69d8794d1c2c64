"""What an operator reads of a booking in the Temporal UI: named timers and activities in its
event history, and current details that say where it stands (issue 11)."""

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from messages.booking import CancelRequest, booking_workflow_id
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import book
from workflows.booking import BookingWorkflow

_SUMMARISED = {
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_MARKER_RECORDED,  # local activities
}


async def test_the_history_tells_the_bookings_story(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=4)
    booking_id = (await book(stack.temporal, stack.settings, session_id, 2)).id
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(booking_id))
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest("changed my mind"))

    history = await handle.fetch_history()
    summaries = [
        (await stack.temporal.data_converter.decode([event.user_metadata.summary]))[0]
        for event in history.events
        if event.event_type in _SUMMARISED and event.user_metadata.HasField("summary")
    ]
    assert "hold 2 place(s)" in summaries
    assert "create PaymentIntent, record PENDING_PAYMENT" in summaries  # one step
    assert "hold expires" in summaries
    assert any(s.startswith("cancel PaymentIntent pi_") for s in summaries)
    assert "release the places" in summaries and "email cancelled" in summaries

    shown = await _current_details(stack.temporal, booking_id)
    assert shown.startswith("**CANCELLED** — changed my mind")
    assert "2 place(s): GA-001, GA-002 · £150.00" in shown
    assert "Ada" not in shown and "ada@example.com" not in shown


async def _current_details(temporal: Client, booking_id: str) -> str:
    """What the UI shows under "Current details" (the SDK's built-in metadata query)."""
    metadata = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details
