"""A session as a whole: stop its sales, and cancel its bookings one workflow at a time."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.webhook_signals import DeliveryStarter
from core.db import transaction
from core.enums import OPEN_STATUSES, BookingStatus, SessionStatus
from core.errors import SessionNotBookable, SessionNotFound
from messages.booking import (
    BookingView,
    CancelRequest,
    booking_workflow_id,
    next_cancel_update_id,
)
from messages.sessions import BookingToCancel
from models.tables import Booking, Session
from store.booking_records import open_bookings
from store.sequences import database_now
from store.webhook_events import publish_session_cancelled

# Well within the heartbeat timeout of the step that cancels a booking (CANCEL_BOOKING_HEARTBEAT
# in workflows.session_cancellation); the SDK sends no more than one per 80% of that timeout.
HEARTBEAT_EVERY = timedelta(seconds=2)


class SessionActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        webhooks: DeliveryStarter,
    ):
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._webhooks = webhooks

    @activity.defn(name="stop_sales")
    async def stop_sales(self, session_id: str) -> list[str]:
        """Mark the session cancelled and name its open bookings, in one transaction.

        Reservations lock the session row and check its status, so once this commits no new
        booking can hold a place; a booking still being set up is among those named.
        """
        key = uuid.UUID(session_id)
        async with transaction(self._sessionmaker) as db:
            session = await db.scalar(select(Session).where(Session.id == key).with_for_update())
            if session is None:
                raise SessionNotFound(f"session {session_id} does not exist")
            if session.status != SessionStatus.CANCELLED:
                if session.starts_at <= await database_now(db):
                    raise SessionNotBookable("a session that has started cannot be cancelled")
                session.status = SessionStatus.CANCELLED
                # The clock now, not the transaction's start: a booking's close that held the
                # session row before this took it then reads as closed before the cancellation
                # (reconcile's `session-cancelled-kept` compares the two).
                session.cancelled_at = await db.scalar(select(func.clock_timestamp()))
                await publish_session_cancelled(db, session)
            open_ids = [str(booking.id) for booking in await open_bookings(db, key)]
        await self._webhooks.nudge_stream(key)
        return open_ids

    @activity.defn(name="cancel_session_booking")
    async def cancel_booking(self, booking: BookingToCancel) -> BookingStatus:
        """Cancel one booking through its own workflow and wait for how it ended, heartbeating
        meanwhile: a worker that dies running this is noticed within the step's heartbeat
        timeout, not its start-to-close one (minutes), and the next attempt asks again.

        The booking's workflow refusing the cancel, or giving it up (Stripe did not answer
        within the refund's bound), leaves it open: that fails this, non-retryable, so the
        session's cancellation lists the booking as failed and a re-run cancels it again."""
        handle = self._temporal.get_workflow_handle(booking_workflow_id(booking.booking_id))
        try:
            async with _heartbeating():
                view = await handle.execute_update(
                    "cancel",
                    CancelRequest(booking.reason, session_cancelled=True),
                    id=await next_cancel_update_id(handle, session_cancelled=True),
                    result_type=BookingView,
                )
        except WorkflowUpdateFailedError as err:
            # Refused: it may have ended on its own meanwhile (expired, ...). Its mirror says.
            return await self._ended(booking.booking_id, f"its cancel was refused: {err.cause}")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return await self._ended(booking.booking_id, "its workflow has closed")
        return view.status

    async def _ended(self, booking_id: str, why: str) -> BookingStatus:
        """How the booking ended, as its mirror says (written before its workflow shows the
        end: `BookingState.record`); an error if the mirror says it is still open."""
        async with self._sessionmaker() as db:
            row = await db.get(Booking, uuid.UUID(booking_id))
        if row is None:
            return BookingStatus.REJECTED  # a setup that failed and left nothing
        status = BookingStatus(row.status)
        if status in OPEN_STATUSES:
            raise ApplicationError(
                f"booking {booking_id} is still {status}: {why}",
                type="BookingStillOpen",
                non_retryable=True,
            )
        return status


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat the running activity until the block ends."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
