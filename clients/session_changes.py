"""The calls into the workflow that announces a session's change, for the API and operators:
start it (or find the running one) and read its progress."""

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from core.settings import Settings
from messages.session_changes import SessionChangeInput, SessionChangeProgress, session_change_id
from workflows.session_change import SessionChangeWorkflow

ChangeHandle = WorkflowHandle[Any, SessionChangeProgress]


async def announce_session_change(
    temporal: Client, settings: Settings, session_id: str, sequence: int
) -> ChangeHandle:
    """The change's announcement: the running one if there is one; started again after it
    ended, a new run that tells each open booking again (each told once all the same)."""
    return await temporal.start_workflow(
        SessionChangeWorkflow.run,
        SessionChangeInput(session_id, sequence),
        id=session_change_id(session_id, sequence),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"announce change {sequence} of session {session_id}",
    )
