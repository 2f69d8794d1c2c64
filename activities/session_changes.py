"""A change of a session's time or place, as its workflow tells each open booking: what the
change is and who to tell, each booking workflow's timers moved, each `booking.updated` event."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.webhook_signals import DeliveryStarter
from core.db import transaction
from core.enums import OPEN_STATUSES, WebhookEventType
from messages.booking import BookingView, booking_workflow_id
from messages.session_changes import (
    SESSION_CHANGED_UPDATE,
    BookingToTell,
    ChangeToAnnounce,
    SessionChangeInput,
    SessionMove,
    keyed_session,
    session_change_update_id,
)
from models.tables import Booking, SessionChange
from store.booking_records import open_bookings
from store.webhook_events import publish_booking_event


class SessionChangeActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        webhooks: DeliveryStarter,
    ):
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._webhooks = webhooks

    @activity.defn(name="session_change_to_announce")
    async def to_announce(self, change: SessionChangeInput) -> ChangeToAnnounce:
        """The change as written (`store.session_changes`) and the session's open bookings; its
        `session.updated` event is sent (written with the change, so before any booking's)."""
        session_id = uuid.UUID(change.session_id)
        async with self._sessionmaker() as db:
            row = await db.scalar(
                select(SessionChange).where(
                    SessionChange.session_id == session_id,
                    SessionChange.sequence == change.sequence,
                )
            )
            if row is None:
                raise ApplicationError(
                    f"session {change.session_id} has no change {change.sequence}",
                    type="SessionChangeNotFound",
                    non_retryable=True,
                )
            booking_ids = [str(booking.id) for booking in await open_bookings(db, session_id)]
        await self._webhooks.nudge_stream(session_id)
        move = SessionMove(
            row.sequence, row.starts_at, row.ends_at, row.refund_in_full_until, change.session_id
        )
        return ChangeToAnnounce(move, sorted(booking_ids))

    @activity.defn(name="move_booking_session")
    async def move_booking(self, booking: BookingToTell) -> bool:
        """Tell the booking's workflow its session's new times (its reminder and end are timed
        anew); False when the booking has ended (its workflow closed) or moved to another
        session since the change read it: nothing to tell."""
        move = booking.move
        handle = self._temporal.get_workflow_handle(booking_workflow_id(booking.booking_id))
        try:
            view = await handle.execute_update(
                SESSION_CHANGED_UPDATE,
                move,
                id=session_change_update_id(move.session_id, move.sequence),
                result_type=BookingView | None,  # type: ignore[arg-type]
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        if view is None or move.session_id not in (None, view.session_id):
            return False
        return view.status in OPEN_STATUSES

    @activity.defn(name="publish_booking_updated")
    async def publish_booking_updated(self, booking: BookingToTell) -> None:
        """The booking's `booking.updated` event for this change, once, if it is still open."""
        key = uuid.UUID(booking.booking_id)
        async with transaction(self._sessionmaker) as db:
            row = await db.get(Booking, key, with_for_update=True)
            if row is None or row.status not in OPEN_STATUSES:
                return
            await publish_booking_event(
                db,
                key,
                WebhookEventType.BOOKING_UPDATED,
                dedup_key=change_key(row, booking.move),
            )
        await self._webhooks.nudge_stream(key)


def change_key(booking: Booking, move: SessionMove) -> str:
    """The dedup key of the booking's `booking.updated` event for the change `move`."""
    session = keyed_session(booking.moves, move.session_id)
    return f"session-change-{move.sequence}" + (f"-{session}" if session else "")
