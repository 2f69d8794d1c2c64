"""An operator's repair of waiting-list entries stranded as `accepted` with a booking that does
not exist (reconcile's `accepted-without-booking`: a setup that failed and was discarded before
such entries were put back by `store.waiting_list.wait_again`). Each goes back to waiting at its
old place, and its session's list is nudged, so its next round offers it the places (a new
offer, with its email and token)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.waiting_list_signals import nudge_waiting_list
from reconcile.findings import DEFAULT_SETTLE_SECONDS
from reconcile.waiting_lists import stranded_acceptances
from store.waiting_list import requeue_stranded


@dataclass(frozen=True)
class Requeued:
    entry_id: str
    session_id: str


async def repair_stranded(
    sessionmaker: async_sessionmaker[AsyncSession],
    temporal: Client,
    task_queue: str,
    session_ids: Sequence[str] | None = None,
    settle: timedelta = timedelta(seconds=DEFAULT_SETTLE_SECONDS),
) -> list[Requeued]:
    """The entries put back (of these sessions), found as reconcile finds them; each one's
    list nudged after the commit (a nudge lost raises; the safety net nudges a list with places
    free while someone waits and no workflow running)."""
    async with sessionmaker() as db:
        found = await stranded_acceptances(db, settle=settle, session_ids=session_ids)
    async with sessionmaker.begin() as db:
        requeued = await requeue_stranded(db, [entry.entry_id for entry in found])
    for session_id in sorted({session for _, session in requeued}):
        await nudge_waiting_list(
            temporal, task_queue, str(session_id), f"waiting list · session {session_id} · repair"
        )
    return [Requeued(str(entry), str(session)) for entry, session in requeued]
