"""Announcing a change of a session's time or place (`store.session_changes` wrote it): every
open booking has its workflow's reminder and end timed anew, gets an email saying what changed
with an updated calendar file, and a `booking.updated` event; a few bookings at a time, with
progress in the Temporal UI.

Its id is derived from the session and the change's sequence, so starting it twice finds the
running one; started again after it finished, it tells each booking again, which each step
makes nothing new of (the update by its id, the email by its key, the event by its dedup key).
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.session_changes import SessionChangeActivities
    from core.enums import EmailKind
    from messages.booking import EmailRequest
    from messages.session_changes import (
        BookingToTell,
        FailedAnnouncement,
        SessionChangeInput,
        SessionChangeProgress,
        SessionMove,
    )
    from workflows.options import DATABASE_STEP, EMAIL_STEP, StepOptions

# Bookings told at once: each is an update, an email (SendGrid) and a database write.
CONCURRENCY = 10
# Telling a booking's workflow waits for it to take the update (it answers at once).
MOVE_BOOKING_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30)),
}


@workflow.defn
class SessionChangeWorkflow:
    @workflow.init
    def __init__(self, input: SessionChangeInput) -> None:
        self._progress = SessionChangeProgress(input.session_id, input.sequence)

    @workflow.run
    async def run(self, input: SessionChangeInput) -> SessionChangeProgress:
        change = await workflow.execute_activity_method(
            SessionChangeActivities.to_announce,
            input,
            summary=f"read change {input.sequence}",
            **DATABASE_STEP,
        )
        self._progress.total = len(change.booking_ids)
        self._show()
        slots = asyncio.Semaphore(CONCURRENCY)

        async def tell(booking_id: str) -> None:
            async with slots:
                try:
                    await self._tell(BookingToTell(booking_id, change.move))
                except ActivityError as err:
                    self._progress.failed.append(FailedAnnouncement(booking_id, str(err.cause)))
                self._progress.done += 1
                self._show()

        await asyncio.gather(*(tell(booking_id) for booking_id in change.booking_ids))
        return self._progress

    async def _tell(self, booking: BookingToTell) -> None:
        """Timers first (the booking's own workflow), then the customer, then the webhook; a
        booking that has ended meanwhile is told nothing."""
        if not await workflow.execute_activity_method(
            SessionChangeActivities.move_booking,
            booking,
            summary=f"move booking {booking.booking_id}",
            **MOVE_BOOKING_STEP,
        ):
            return
        await workflow.execute_activity_method(
            NotificationActivities.send,
            _email(booking.booking_id, booking.move),
            summary=f"email booking {booking.booking_id}",
            **EMAIL_STEP,
        )
        await workflow.execute_activity_method(
            SessionChangeActivities.publish_booking_updated,
            booking,
            summary=f"booking.updated {booking.booking_id}",
            **DATABASE_STEP,
        )

    @workflow.query
    def progress(self) -> SessionChangeProgress:
        return self._progress

    def _show(self) -> None:
        progress = self._progress
        workflow.set_current_details(
            f"**change {progress.sequence}: {progress.done} of {progress.total} bookings told, "
            f"{len(progress.failed)} failed**"
        )


def _email(booking_id: str, move: SessionMove) -> EmailRequest:
    return EmailRequest(
        booking_id,
        EmailKind.SESSION_CHANGED,
        change_sequence=move.sequence,
        change_session_id=move.session_id,
    )
