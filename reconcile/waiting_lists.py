"""Waiting lists their workflow will not move on by itself; the safety net nudges them.

- An offer `grace` past its deadline that still holds its places: the list's timer lets it
  lapse at the deadline, so its workflow stalled, was terminated or is gone (`offer-overdue`).
- Places free while someone waits, or entries still live in a session whose sales ended,
  with no list workflow running: the nudge after the commit that changed things was lost.
  (With a workflow running, free places and people waiting is the fairness rule at work: a
  group that does not fit yet.)

And entries nothing will move on (`stranded_acceptances`): accepted, with a booking that does
not exist (reconcile's `accepted-without-booking`; `booking-ops sessions waiting-list-repair`
puts them back).

Entries changed in the last `settle` are left alone: their nudge may be on its way.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Exists, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from core.enums import (
    LIVE_ENTRY_STATES,
    SeatState,
    SessionStatus,
    WaitingEntryState,
    WaitingListStatus,
)
from core.temporal import describe_or_none
from messages.repairs import StalledList, StallReason
from messages.waiting_list import waiting_list_workflow_id
from models.tables import Seat, Session, WaitingListEntry
from store.waiting_list import stranded_acceptance


async def stalled_lists(
    sessionmaker: async_sessionmaker[AsyncSession],
    temporal: Client,
    *,
    grace: timedelta,
    settle: timedelta,
) -> list[StalledList]:
    """Every stalled list, the overdue offers' first."""
    async with sessionmaker() as db:
        overdue = set(await db.scalars(_overdue(grace)))
        unattended = set(await db.scalars(_unattended(settle))) - overdue
    found = [StalledList(str(s), StallReason.OFFER_OVERDUE) for s in sorted(overdue)]
    for session_id in sorted(unattended):
        if not await _list_running(temporal, str(session_id)):
            found.append(StalledList(str(session_id), StallReason.NO_WORKFLOW))
    return found


def _overdue(grace: timedelta) -> Select[uuid.UUID]:
    return (
        select(WaitingListEntry.session_id)
        .where(
            WaitingListEntry.state == WaitingEntryState.OFFERED,
            WaitingListEntry.offer_expires_at < func.now() - grace,
        )
        .distinct()
    )


def _unattended(settle: timedelta) -> Select[uuid.UUID]:
    """Sessions whose list has something to do: places free while someone waits, or live
    entries once sales ended; none of its entries changed within `settle`."""

    def entries(condition: ColumnElement[bool]) -> Exists:
        return exists().where(WaitingListEntry.session_id == Session.id, condition)

    waiting = entries(WaitingListEntry.state == WaitingEntryState.WAITING)
    free = exists().where(Seat.session_id == Session.id, Seat.state == SeatState.FREE)
    sales_ended = or_(
        Session.status != SessionStatus.SCHEDULED,
        Session.starts_at <= func.now(),
        Session.waiting_list_status == WaitingListStatus.CLOSED,
    )
    live = select(WaitingListEntry.session_id).where(WaitingListEntry.state.in_(LIVE_ENTRY_STATES))
    recent = entries(WaitingListEntry.updated_at > func.now() - settle)
    return select(Session.id).where(
        Session.id.in_(live),
        or_(and_(waiting, free), sales_ended),
        ~recent,
    )


async def _list_running(temporal: Client, session_id: str) -> bool:
    handle = temporal.get_workflow_handle(waiting_list_workflow_id(session_id))
    described = await describe_or_none(handle)
    return described is not None and described.status == WorkflowExecutionStatus.RUNNING


@dataclass(frozen=True)
class StrandedAcceptance:
    """An entry accepted whose booking does not exist (`booking_id` None: never named one)."""

    entry_id: uuid.UUID
    session_id: uuid.UUID
    booking_id: uuid.UUID | None


async def stranded_acceptances(
    db: AsyncSession, *, settle: timedelta, session_ids: Sequence[str] | None = None
) -> list[StrandedAcceptance]:
    """Every stranded acceptance (of these sessions), in join order."""
    query = (
        select(WaitingListEntry.id, WaitingListEntry.session_id, WaitingListEntry.booking_id)
        .where(stranded_acceptance(), WaitingListEntry.updated_at <= func.now() - settle)
        .order_by(WaitingListEntry.position)
    )
    if session_ids is not None:
        query = query.where(WaitingListEntry.session_id.in_([uuid.UUID(s) for s in session_ids]))
    return [StrandedAcceptance(*row) for row in (await db.execute(query)).all()]
