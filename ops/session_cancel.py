"""An operator's cancel of a session through its cancellation workflow: whether it may start,
following it to its outcome, and the outcome for people and scripts."""

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError

from clients.session_cancellation import (
    CancellationHandle,
    progress_of,
    start_session_cancellation,
)
from core.enums import SessionStatus
from core.errors import SessionNotBookable, as_booking_error
from core.settings import Settings
from messages.sessions import SessionCancellationProgress, session_cancellation_id
from store.catalog import get_session

# How often a followed cancellation is asked how far it is.
POLL_SECONDS = 0.5


async def check_cancellable(s: AsyncSession, session_id: str) -> None:
    """BookingError if the session does not exist, or has started (and is not cancelled yet:
    a cancelled one may be cancelled again, to finish what is left)."""
    session, _ = await get_session(s, session_id)
    if session.status != SessionStatus.CANCELLED and session.starts_at <= datetime.now(UTC):
        raise SessionNotBookable("a session that has started cannot be cancelled")


Tell = Callable[[SessionCancellationProgress], None]


async def cancel(
    temporal: Client, settings: Settings, session_id: str, reason: str, tell: Tell | None
) -> tuple[SessionCancellationProgress, bool]:
    """Start the session's cancellation (or join the one running); with `tell`, follow it to its
    outcome (see `follow`), without, its progress now. The progress, and whether it is the
    outcome."""
    handle = await start_session_cancellation(temporal, settings, session_id, reason)
    if tell is None:
        return await progress_of(handle, session_id, settings.workflow_accept_seconds), False
    return await follow(handle, session_id, tell), True


async def follow(
    handle: CancellationHandle,
    session_id: str,
    tell: Tell,
) -> SessionCancellationProgress:
    """The outcome, telling how far it is meanwhile; the business error (a BookingError) the
    workflow failed with, if it failed with one."""
    result = asyncio.ensure_future(handle.result())
    try:
        while not result.done():
            await asyncio.wait({result}, timeout=POLL_SECONDS)
            if not result.done():
                tell(await progress_of(handle, session_id, POLL_SECONDS * 4))
        return result.result()
    except WorkflowFailureError as err:
        found = as_booking_error(err)
        if found is None:
            raise
        raise found from err
    finally:
        result.cancel()


def progress_json(outcome: SessionCancellationProgress, finished: bool) -> dict[str, Any]:
    return {
        "session_id": outcome.session_id,
        "workflow_id": session_cancellation_id(outcome.session_id),
        "finished": finished,
        "total": outcome.total,
        "done": outcome.done,
        "bookings": dict(Counter(outcome.outcomes)),
        "failed": [{"booking_id": f.booking_id, "error": f.error} for f in outcome.failed],
    }


def headline(outcome: SessionCancellationProgress, finished: bool) -> str:
    state = "cancelled" if finished else "being cancelled"
    return (
        f"session {outcome.session_id} {state}: {outcome.done} of {outcome.total} booking(s) "
        f"done, {len(outcome.failed)} failed"
    )


def follow_hint(outcome: SessionCancellationProgress) -> str:
    """Where to follow a cancellation still under way."""
    return (
        f"follow it: booking-ops sessions cancel {outcome.session_id}, or the Temporal UI "
        f"(workflow {session_cancellation_id(outcome.session_id)})"
    )
