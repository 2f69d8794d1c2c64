"""An operator's change of a session, as `PATCH /v1/sessions/{id}` makes it: written in one
transaction, then announced (`clients.session_changes.after_update`), optionally followed to
the end of its announcement; and its outcome for people and scripts."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.webhook_signals import DeliveryStarter
from clients.session_changes import after_update
from core.settings import Settings
from messages.session_changes import SessionChangeProgress
from messages.webhooks import retry_timings
from models.tables import Session, SessionChange
from store.catalog import Availability, get_session
from store.session_changes import SessionPatch, update_session


@dataclass
class Updated:
    session: Session
    availability: Availability
    change: SessionChange | None
    # The announcement's outcome when followed to its end, else None.
    told: SessionChangeProgress | None


async def update(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    session_id: str,
    patch: SessionPatch,
    wait: bool,
) -> Updated:
    """Change the session (BookingError when refused: nothing changed); with `wait`, follow its
    announcement until every open booking was told."""
    async with db.begin() as s:
        session, _ = await get_session(s, session_id)
        outcome = await update_session(s, session.id, session.organisation_id, patch)
    webhooks = DeliveryStarter(db, temporal, settings.task_queue, retry_timings(settings))
    handle = await after_update(temporal, settings, webhooks, outcome)
    told = await handle.result() if handle is not None and wait else None
    async with db() as s:
        session, availability = await get_session(s, session_id)
    return Updated(session, availability, outcome.change, told)


def change_json(updated: Updated) -> dict[str, Any] | None:
    change, told = updated.change, updated.told
    if change is None:
        return None
    until = change.refund_in_full_until
    return {
        "sequence": change.sequence,
        "changes": change.changes,
        "refund_in_full_until": until.isoformat() if until else None,
        "told": None if told is None else {"total": told.total, "done": told.done},
        "failed": {} if told is None else {f.booking_id: f.error for f in told.failed},
    }


def headline(updated: Updated) -> str:
    change, told = updated.change, updated.told
    if change is None:
        return f"session {updated.session.id} updated (no change of time or place to announce)"
    line = f"change {change.sequence} of session {updated.session.id}"
    if told is None:
        return f"{line}: being announced (session-change-{updated.session.id}-{change.sequence})"
    return f"{line}: {told.done} of {told.total} booking(s) told, {len(told.failed)} failed"
