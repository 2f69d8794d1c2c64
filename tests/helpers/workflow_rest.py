"""When a booking's workflow is at rest: closed, or done with its last signal, from its history
(the tests read the database or Stripe only then)."""

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from messages.booking import booking_workflow_id
from tests.helpers.polling import eventually


async def settled(temporal: Client, booking_id: str, within: float = 15) -> None:
    """Once the workflow has closed, or has acted on its last signal: a workflow task completed
    after it, with no workflow task scheduled since and no activity still open (one started
    before the signal, say the confirmation email, would otherwise hide the signal's work)."""
    await eventually(
        lambda: at_rest(temporal, booking_id), within=within, what=f"booking {booking_id} at rest"
    )


async def at_rest(temporal: Client, booking_id: str) -> bool:
    """One look at the booking's history: closed, or nothing due (see `settled`)."""
    events = list(
        (await temporal.get_workflow_handle(booking_workflow_id(booking_id)).fetch_history()).events
    )
    kinds = [event.WhichOneof("attributes") for event in events]
    if "workflow_execution_completed_event_attributes" in kinds:
        return True
    signalled = max(
        (
            i
            for i, kind in enumerate(kinds)
            if kind == "workflow_execution_signaled_event_attributes"
        ),
        default=-1,
    )
    done = [i for i, kind in enumerate(kinds) if kind == "workflow_task_completed_event_attributes"]
    if not done or done[-1] < signalled:
        return False
    if "workflow_task_scheduled_event_attributes" in kinds[done[-1] :]:
        return False
    return not _open_activities(events)


_ACTIVITY_ENDS = (
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
    "activity_task_canceled_event_attributes",
)


def _open_activities(events: list[HistoryEvent]) -> set[int]:
    """The scheduled events of the activities that have not ended."""
    kinds = [(event, event.WhichOneof("attributes")) for event in events]
    scheduled = {
        e.event_id for e, kind in kinds if kind == "activity_task_scheduled_event_attributes"
    }
    ended = {getattr(e, kind).scheduled_event_id for e, kind in kinds if kind in _ACTIVITY_ENDS}
    return scheduled - ended
