"""Sends one booking's (or session's) events to one endpoint, one at a time, in their order.

Started (or nudged) by signal-with-start after a transaction wrote deliveries; its id is
`webhook-delivery-<endpoint>-<stream>`. The database is the queue: each turn asks for the
stream's earliest pending delivery, so a nudge carries nothing, a lost nudge is made good by
the next, and a new run (continue-as-new, or a start after this one closed) loses nothing.
It ends when the queue is empty and no nudge came while it looked: a nudge that arrives as it
completes fails that completion (Temporal refuses to close over a new signal) and the
workflow looks again.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks_out import REJECTED, WebhookActivities
    from messages.webhooks import NUDGE_SIGNAL, DeliveryStream, RetryTimings
    from workflows.options import DATABASE_STEP, StepOptions


def send_step(retry: RetryTimings) -> StepOptions:
    """One delivery: exponential backoff for the whole window, then given up."""
    return {
        "start_to_close_timeout": timedelta(seconds=retry.timeout_seconds + 10),
        "schedule_to_close_timeout": timedelta(seconds=retry.window_seconds),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=retry.first_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=retry.max_interval_seconds),
            non_retryable_error_types=[REJECTED],
        ),
    }


@workflow.defn(name="WebhookDeliveryWorkflow")
class WebhookDeliveryWorkflow:
    def __init__(self) -> None:
        self._nudged = False

    @workflow.signal(name=NUDGE_SIGNAL)
    def nudge(self) -> None:
        self._nudged = True

    @workflow.run
    async def run(self, stream: DeliveryStream) -> int:
        """How many deliveries this run made (delivered or given up)."""
        done = 0
        while True:
            self._nudged = False
            pending = await workflow.execute_activity_method(
                WebhookActivities.next_delivery,
                stream,
                summary="next pending delivery",
                **DATABASE_STEP,
            )
            if pending is None:
                if self._nudged:
                    continue
                return done
            try:
                await workflow.execute_activity_method(
                    WebhookActivities.deliver,
                    pending,
                    summary=f"deliver {pending.event_id} (#{pending.sequence})",
                    **send_step(stream.retry),
                )
            except ActivityError:  # refused, or the retry window ran out: attempts say why
                await workflow.execute_activity_method(
                    WebhookActivities.give_up,
                    pending,
                    summary="give up",
                    **DATABASE_STEP,
                )
            done += 1
            if done >= stream.deliveries_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(stream)
