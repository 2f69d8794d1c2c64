"""Cancelling a session: stop its sales, then cancel or refund every open booking through the
booking's own workflow, a few at a time, showing progress in the Temporal UI.

Its id is derived from the session, so starting it twice finds the running one; started again
after it finished, it finishes what is left (the bookings that failed, or were still open).
"""

import asyncio
from collections import Counter
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.sessions import SessionActivities
    from core.enums import BookingStatus
    from messages.sessions import (
        BookingToCancel,
        FailedCancellation,
        SessionCancellationInput,
        SessionCancellationProgress,
    )
    from workflows.options import DATABASE_STEP, StepOptions

# Bookings cancelled at once: each refund is a Stripe call; Stripe limits a key to ~100/s.
CONCURRENCY = 10
# A booking's cancel waits on Stripe through the booking workflow's own bounded grace.
CANCEL_BOOKING_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30)),
}
# It heartbeats while it waits (`SessionActivities.cancel_booking`): one lost with its worker
# (SIGKILLed, say) is retried after this, not after the start-to-close timeout, minutes during
# which the booking stays open although the session's sales have stopped.
CANCEL_BOOKING_HEARTBEAT = timedelta(seconds=10)


@workflow.defn
class SessionCancellationWorkflow:
    @workflow.init
    def __init__(self, input: SessionCancellationInput) -> None:
        self._progress = SessionCancellationProgress(input.session_id)

    @workflow.run
    async def run(self, input: SessionCancellationInput) -> SessionCancellationProgress:
        booking_ids = await workflow.execute_activity_method(
            SessionActivities.stop_sales,
            input.session_id,
            summary="stop sales",
            **DATABASE_STEP,
        )
        self._progress.total = len(booking_ids)
        self._show()
        outcomes: Counter[BookingStatus] = Counter()
        slots = asyncio.Semaphore(CONCURRENCY)

        async def cancel(booking_id: str) -> None:
            async with slots:
                try:
                    status = await workflow.execute_activity_method(
                        SessionActivities.cancel_booking,
                        BookingToCancel(booking_id, input.reason),
                        summary=f"cancel booking {booking_id}",
                        heartbeat_timeout=CANCEL_BOOKING_HEARTBEAT,
                        **CANCEL_BOOKING_STEP,
                    )
                    outcomes[status] += 1
                    self._progress.outcomes = dict(outcomes)
                except ActivityError as err:
                    self._progress.failed.append(FailedCancellation(booking_id, str(err.cause)))
                self._progress.done += 1
                self._show()

        await asyncio.gather(*(cancel(booking_id) for booking_id in booking_ids))
        return self._progress

    @workflow.query
    def progress(self) -> SessionCancellationProgress:
        return self._progress

    def _show(self) -> None:
        progress = self._progress
        workflow.set_current_details(
            f"**{progress.done} of {progress.total} bookings done, {len(progress.failed)} failed**"
            + "".join(f"\n\n{status}: {n}" for status, n in sorted(progress.outcomes.items()))
        )
