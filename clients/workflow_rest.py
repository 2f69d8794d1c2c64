"""Is a booking's workflow at rest: closed, or only waiting (a timer, a message)?

A workflow at work has an activity pending (an email, a document, a Stripe call) or a workflow
task scheduled or running (its local activities: recording a transition, releasing places).
Erasure waits for rest, so nothing the workflow is about to send reads an erased row.
"""

import asyncio
from collections.abc import Collection

from temporalio.client import Client, WorkflowExecutionStatus

from core.temporal import describe_or_none
from messages.booking import booking_workflow_id

_CONCURRENCY = 20


async def busy_bookings(temporal: Client, booking_ids: Collection[str]) -> set[str]:
    """The bookings among these whose workflow is running and at work."""
    bound = asyncio.Semaphore(_CONCURRENCY)

    async def at_work(booking_id: str) -> bool:
        async with bound:
            handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
            described = await describe_or_none(handle)
        if described is None:
            return False
        raw = described.raw_description
        return described.status == WorkflowExecutionStatus.RUNNING and (
            bool(raw.pending_activities) or raw.HasField("pending_workflow_task")
        )

    ids = sorted(set(booking_ids))
    found = await asyncio.gather(*(at_work(b) for b in ids))
    return {b for b, busy in zip(ids, found, strict=True) if busy}
