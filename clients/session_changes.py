"""What follows a committed change of a session (`store.session_changes`), for the API and
operators alike: its announcement started (or found running), or its `session.updated` event
sent; a raised capacity or an earlier start wakes the waiting list."""

import asyncio
import logging
import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from activities.webhook_signals import DeliveryStarter
from clients import waiting_lists
from core.errors import ServiceUnavailable
from core.settings import Settings
from messages.session_changes import SessionChangeInput, SessionChangeProgress, session_change_id
from store.session_changes import PatchOutcome
from workflows.session_change import SessionChangeWorkflow

ChangeHandle = WorkflowHandle[Any, SessionChangeProgress]
log = logging.getLogger(__name__)


async def after_update(
    temporal: Client, settings: Settings, webhooks: DeliveryStarter, outcome: PatchOutcome
) -> ChangeHandle | None:
    """The change's announcement (None when the time and place stayed: its event is sent
    here); ServiceUnavailable if Temporal does not take it in time (the change is saved: the
    same change asked again starts it)."""
    session_id = str(outcome.session.id)
    handle = None
    if outcome.change is not None:
        sequence = outcome.change.sequence
        try:
            async with asyncio.timeout(settings.workflow_accept_seconds):
                handle = await announce_session_change(temporal, settings, session_id, sequence)
        except TimeoutError:
            raise ServiceUnavailable(
                f"change {sequence} is saved but its announcement was not started in time: "
                "ask for the same change again to start it"
            ) from None
    else:
        await _wake_webhooks(webhooks, outcome.session.id)
    if outcome.wake_list:
        await waiting_lists.nudge(temporal, settings, session_id)
    return handle


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


async def _wake_webhooks(webhooks: DeliveryStarter, session_id: uuid.UUID) -> None:
    """Send the `session.updated` event now; a wake-up lost (Temporal down) is the safety
    net's, whose sweep wakes every delivery left pending."""
    try:
        await webhooks.nudge_stream(session_id)
    except Exception:
        log.exception("session %s: its update's webhook is left to the safety net", session_id)
