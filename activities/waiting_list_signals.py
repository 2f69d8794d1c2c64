"""Wakes a session's waiting-list workflow (signal-with-start): someone joined, places came
back, or the list changed.

The workflow reads what to do from the database, so a nudge carries nothing and one too many
costs a round that changes nothing. Called after the transaction that changed things commits;
a nudge lost (Temporal down) raises, and the caller's retry nudges again.
"""

import uuid
from datetime import timedelta

from sqlalchemy import exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.enums import WaitingEntryState
from messages.waiting_list import (
    PLACES_SIGNAL,
    WAITING_LIST_WORKFLOW,
    WaitingListInput,
    waiting_list_workflow_id,
)
from models.tables import Booking, WaitingListEntry

_RPC_TIMEOUT = timedelta(seconds=5)


class WaitingListSignals:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], temporal: Client, task_queue: str
    ) -> None:
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._task_queue = task_queue

    async def places_came_back(
        self, booking_id: uuid.UUID, session_id: uuid.UUID | None = None
    ) -> bool:
        """After a booking gave places back: wake its session's list if anyone waits on it.
        `session_id` names the session of a booking whose row is gone (a discarded setup)."""
        # Typed: an untyped literal is both the selected value and the compared one, and
        # PostgreSQL cannot deduce one type for it.
        session = (
            Booking.session_id
            if session_id is None
            else literal(session_id, WaitingListEntry.session_id.type)
        )
        query = select(session).where(
            exists().where(
                WaitingListEntry.session_id == session,
                WaitingListEntry.state == WaitingEntryState.WAITING,
            )
        )
        if session_id is None:
            query = query.where(Booking.id == booking_id)
        async with self._sessionmaker() as db:
            waited_on = await db.scalar(query)
        if waited_on is None:
            return False
        await nudge_waiting_list(self._temporal, self._task_queue, str(waited_on))
        return True


async def nudge_waiting_list(
    temporal: Client, task_queue: str, session_id: str, summary: str | None = None
) -> None:
    """Signal the session's list workflow, starting it if none runs."""
    await temporal.start_workflow(
        WAITING_LIST_WORKFLOW,
        WaitingListInput(session_id),
        id=waiting_list_workflow_id(session_id),
        task_queue=task_queue,
        start_signal=PLACES_SIGNAL,
        static_summary=summary or f"waiting list · session {session_id}",
        rpc_timeout=_RPC_TIMEOUT,
    )
