"""What Temporal says of each booking: is its workflow running, and which status does it tell.

One `describe` per booking, and a `view` query for the running ones, under one concurrency
bound. A query needs a worker; when none answers, the BookingStatus search attribute (written
at the same steps as the view) stands in, so the check still runs with the workers down.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError, RPCStatusCode

from core.temporal import describe_or_none
from messages import search_attributes as sa
from messages.booking import BookingView, booking_workflow_id
from reconcile.progress import Progress, tell

QUERY_TIMEOUT = timedelta(seconds=5)
_NO_WORKER = {RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE}


@dataclass(frozen=True)
class WorkflowState:
    # None: Temporal knows no such workflow (never started, or deleted after retention).
    status: WorkflowExecutionStatus | None
    # The booking status the workflow tells (running workflows only); None when it has no view.
    booking_status: str | None = None
    told_by: str = ""  # "query" or "search attribute"

    @property
    def running(self) -> bool:
        return self.status == WorkflowExecutionStatus.RUNNING

    @property
    def label(self) -> str:
        return self.status.name if self.status is not None else "NOT_FOUND"


class WorkflowReader:
    """Reads workflow states with at most `concurrency` calls to Temporal in flight."""

    def __init__(self, temporal: Client, *, concurrency: int = 20, query: bool = True):
        self._temporal = temporal
        self._bound = asyncio.Semaphore(concurrency)
        self._query = query
        self.queries = 0
        self.query_failures = 0

    async def read(
        self, booking_ids: Iterable[str], *, ask_status: bool, progress: Progress | None = None
    ) -> dict[str, WorkflowState]:
        """Each booking's workflow; `ask_status` also asks running ones for their status."""
        ids = sorted(set(booking_ids))
        states: dict[str, WorkflowState] = {}

        async def one(booking_id: str) -> None:
            async with self._bound:
                states[booking_id] = await self._state(booking_id, ask_status)
            tell(progress, "temporal workflows", len(states), len(ids))

        tell(progress, "temporal workflows", 0, len(ids))
        await asyncio.gather(*(one(b) for b in ids))
        return states

    async def _state(self, booking_id: str, ask_status: bool) -> WorkflowState:
        handle = self._temporal.get_workflow_handle(booking_workflow_id(booking_id))
        described = await describe_or_none(handle)
        if described is None:
            return WorkflowState(None)
        if described.status != WorkflowExecutionStatus.RUNNING or not ask_status:
            return WorkflowState(described.status)
        if self._query:
            told = await self._ask(handle, described.status)
            if told is not None:
                return told
        attribute = described.typed_search_attributes.get(sa.BOOKING_STATUS)
        return WorkflowState(described.status, attribute, "search attribute")

    async def _ask(
        self, handle: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus
    ) -> WorkflowState | None:
        """What the view says, or None when the query failed (a timeout stops all queries)."""
        self.queries += 1
        try:
            view = await handle.query("view", result_type=BookingView, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
            self.query_failures += 1
            if isinstance(err, RPCError) and err.status in _NO_WORKER:
                self._query = False  # nobody answers: do not wait QUERY_TIMEOUT per booking
            return None
        return WorkflowState(status, view.status.value if view is not None else None, "query")
