"""A booking's story from its workflow history, for people: when each thing happened and what.

Activities and timers are named by their summaries (set by the workflow, decoded with the
client's data converter, so through the payload codec); payment events, cancels, status
changes and the workflow's end are read from their own events.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter, decode_typed_search_attributes

from messages import search_attributes as sa
from messages.booking import CancelRequest
from messages.payments import PaymentEvent


@dataclass(frozen=True)
class Step:
    at: datetime
    what: str


async def timeline(history: WorkflowHistory, converter: DataConverter) -> list[Step]:
    """What happened, oldest first; the bookkeeping events (workflow tasks) left out."""
    reader = _Reader(converter)
    steps = []
    for event in history.events:
        what = await reader.read(event)
        if what:
            steps.append(Step(event.event_time.ToDatetime(tzinfo=UTC), what))
    return steps


class _Reader:
    """Reads events in order, remembering what later events refer back to."""

    def __init__(self, converter: DataConverter) -> None:
        self._converter = converter
        self._activities: dict[int, str] = {}  # scheduled event id -> name
        self._timers: dict[str, str] = {}  # timer id -> name
        self._shown: dict[str, Any] = {}  # search attribute -> last value shown

    async def read(self, event: HistoryEvent) -> str | None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            summary = await self._summary(event)
            return "workflow started" + (f": {summary}" if summary else "")
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activity = event.activity_task_scheduled_event_attributes.activity_type.name
            self._activities[event.event_id] = await self._summary(event) or activity
            return self._activities[event.event_id]
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            name = self._activities.get(failed.scheduled_event_id, "an activity")
            return f"{name} failed: {await self._failure(failed.failure)}"
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timed_out = event.activity_task_timed_out_event_attributes
            return f"{self._activities.get(timed_out.scheduled_event_id, 'an activity')} timed out"
        if kind == EventType.EVENT_TYPE_MARKER_RECORDED:  # a local activity
            local = await self._summary(event)
            marker = event.marker_recorded_event_attributes
            if marker.HasField("failure"):
                why = await self._failure(marker.failure)
                return f"{local or 'a local activity'} failed: {why}"
            return local
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timer = event.timer_started_event_attributes
            name = self._timers[timer.timer_id] = await self._summary(event) or "timer"
            started = event.event_time.ToDatetime(tzinfo=UTC)
            fires = started + timer.start_to_fire_timeout.ToTimedelta()
            return f"timer '{name}' set for {fires:%Y-%m-%d %H:%M:%S}"
        if kind == EventType.EVENT_TYPE_TIMER_FIRED:
            timer_id = event.timer_fired_event_attributes.timer_id
            return f"timer '{self._timers.get(timer_id, 'timer')}' fired"
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            return await self._signal(event)
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            return await self._update(event)
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("failure"):
                return f"update refused: {await self._failure(outcome.failure)}"
            return None
        if kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            return self._status_change(event)
        return await self._end(event)

    async def _signal(self, event: HistoryEvent) -> str:
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name != "payment_event" or not attrs.input.payloads:
            return f"signal {attrs.signal_name}"
        [payment] = await self._converter.decode(list(attrs.input.payloads), [PaymentEvent])
        line = f"payment event: {payment.type} ({payment.event_id})"
        return line + (f": {payment.failure_message}" if payment.failure_message else "")

    async def _update(self, event: HistoryEvent) -> str:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name, args = request.input.name, list(request.input.args.payloads)
        if name == "hold":
            return "booking requested (places and payment asked for)"
        if name == "cancel" and args:
            [cancel] = await self._converter.decode(args, [CancelRequest])
            why = "the session was cancelled" if cancel.session_cancelled else cancel.reason
            return f"cancel requested: {why}"
        return f"update {name}"

    def _status_change(self, event: HistoryEvent) -> str | None:
        found = decode_typed_search_attributes(
            event.upsert_workflow_search_attributes_event_attributes.search_attributes
        )
        changes = []
        for key, label in (
            (sa.BOOKING_STATUS, "status"),
            (sa.BOOKING_REFERENCE, "reference"),
            (sa.HOLD_EXPIRES_AT, "hold ends"),
        ):
            value = found.get(key)
            if value is None or self._shown.get(key.name) == value:
                continue
            self._shown[key.name] = value
            shown = f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else value
            changes.append(f"{label} {shown}")
        return ", ".join(changes) or None

    async def _end(self, event: HistoryEvent) -> str | None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            return "workflow completed"
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            return f"workflow failed: {await self._failure(failure)}"
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            reason = event.workflow_execution_terminated_event_attributes.reason
            return "workflow terminated" + (f": {reason}" if reason else "")
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            return "workflow timed out"
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            return "workflow cancelled"
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return "workflow continued as new"
        return None

    async def _summary(self, event: HistoryEvent) -> str | None:
        if not event.user_metadata.HasField("summary"):
            return None
        return await self._text(event.user_metadata.summary)

    async def _text(self, payload: Payload) -> str:
        [value] = await self._converter.decode([payload])
        return str(value)

    async def _failure(self, failure: Failure) -> str:
        error = await self._converter.decode_failure(failure)
        while error.__cause__ is not None and not str(error):
            error = error.__cause__
        return " ".join(str(error).split()) or type(error).__name__
