"""The waiting list's webhook events: an entry's `waitlist.*` event for each transition that
has one, written in the transaction that makes it (the outbox of `store.webhook_events`).

Each entry is its own stream (its id), so a receiver gets an entry's events in order; each
event is written once per entry (an offer: once per offer made to it), however often the
transition's transaction is retried. The caller holds the entries' rows (updated or locked),
which orders their events.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import WaitingEntryState, WebhookEventType
from models.tables import Session, WaitingListEntry
from store.webhook_events import publish, subscribed

# The entry states that are events, when a transition reaches them. Declined and closed are
# not (an organiser closing the list, or the session ending, has events of its own).
ENTRY_EVENTS = {
    WaitingEntryState.WAITING: WebhookEventType.WAITLIST_JOINED,
    WaitingEntryState.OFFERED: WebhookEventType.WAITLIST_OFFERED,
    WaitingEntryState.ACCEPTED: WebhookEventType.WAITLIST_ACCEPTED,
    WaitingEntryState.EXPIRED: WebhookEventType.WAITLIST_EXPIRED,
    WaitingEntryState.LEFT: WebhookEventType.WAITLIST_LEFT,
}


async def publish_entry_events(db: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The event of the state each entry is in now, for every subscribed enabled endpoint of
    its organisation; the entries an event was recorded for (their deliveries to wake after
    the commit)."""
    if not entry_ids:
        return []
    await db.flush()
    rows = (
        await db.execute(
            select(WaitingListEntry, Session.organisation_id)
            .join(Session, Session.id == WaitingListEntry.session_id)
            .where(WaitingListEntry.id.in_(entry_ids))
            .execution_options(populate_existing=True)
        )
    ).all()
    published = []
    for entry, organisation_id in rows:
        event_type = ENTRY_EVENTS.get(WaitingEntryState(entry.state))
        if event_type is None:
            continue
        endpoint_ids = await subscribed(db, organisation_id, event_type)
        if not endpoint_ids:
            continue
        occurrence = f"{event_type}-{entry.offers_made}" if entry.offers_made else event_type
        data = {"entry": entry_data(entry)}
        await publish(db, event_type, organisation_id, entry.id, data, occurrence, endpoint_ids)
        published.append(entry.id)
    return published


def entry_data(entry: WaitingListEntry) -> dict[str, Any]:
    """The entry as `GET /v1/waiting-list/{id}` shows it, less its position and the offer's
    accept token (which only its customer is sent); `offer` names the places of the last
    offer made to it, with its deadline while it stands."""
    offer = None
    if entry.offers_made:
        offer = {"seats": list(entry.offer_seat_labels), "expires_at": _iso(entry.offer_expires_at)}
    return {
        "id": str(entry.id),
        "session_id": str(entry.session_id),
        "state": entry.state,
        "quantity": entry.quantity,
        "seats": list(entry.seat_labels),
        "customer": {"name": entry.customer_name, "email": entry.customer_email},
        "skipped": entry.skipped_count,
        "offer": offer,
        "booking_id": None if entry.booking_id is None else str(entry.booking_id),
        "created_at": _iso(entry.created_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
