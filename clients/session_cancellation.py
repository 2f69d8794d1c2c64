"""The calls into a session's cancellation workflow, for the API and operators alike: start it
(or find the running one), wait a bounded time for its outcome, read its progress."""

import asyncio
from typing import Any

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from core.errors import ServiceUnavailable, as_booking_error
from core.settings import Settings
from messages.sessions import (
    SessionCancellationInput,
    SessionCancellationProgress,
    session_cancellation_id,
)
from workflows.session_cancellation import SessionCancellationWorkflow

CancellationHandle = WorkflowHandle[Any, SessionCancellationProgress]


async def start_session_cancellation(
    temporal: Client, settings: Settings, session_id: str, reason: str | None = None
) -> CancellationHandle:
    """The session's cancellation: the running one if there is one; started again after it
    ended, a new run that finishes what is left (bookings that failed or are still open)."""
    request = SessionCancellationInput(session_id)
    if reason:
        request.reason = reason
    return await temporal.start_workflow(
        SessionCancellationWorkflow.run,
        request,
        id=session_cancellation_id(session_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"cancel session {session_id}",
    )


async def cancel_session_within(
    temporal: Client, settings: Settings, session_id: str
) -> tuple[SessionCancellationProgress, bool]:
    """(outcome, True) if the cancellation ends within `cancel_wait_seconds`, else (progress so
    far, False) while it goes on durably. A refusal (the session has started) is raised as the
    business error; ServiceUnavailable if Temporal does not take the start in time."""
    try:
        async with asyncio.timeout(settings.workflow_accept_seconds):
            handle = await start_session_cancellation(temporal, settings, session_id)
    except TimeoutError:
        raise ServiceUnavailable("the session's cancellation was not started in time") from None
    try:
        async with asyncio.timeout(settings.cancel_wait_seconds):
            return await handle.result(), True
    except TimeoutError:
        pass
    except WorkflowFailureError as err:
        raise as_booking_error(err) or err from err
    return await progress_of(handle, session_id, settings.workflow_accept_seconds), False


async def progress_of(
    handle: CancellationHandle, session_id: str, within: float
) -> SessionCancellationProgress:
    """Its progress (the `progress` query); nothing done yet if no worker answers in time."""
    try:
        async with asyncio.timeout(within):
            return await handle.query(SessionCancellationWorkflow.progress)
    except (TimeoutError, RPCError, WorkflowQueryFailedError):
        return SessionCancellationProgress(session_id)
