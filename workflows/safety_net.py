"""The safety net: started by a Temporal Schedule, it puts right what no booking workflow will.

A booking workflow that was terminated (operators can, in the UI) or is stuck leaves its
places held and would keep a late payment; this releases such places and refunds such money,
telling the customer, has its refunds recorded on their booking, and reports what it repaired.
A waiting list whose workflow stalled (an offer past its deadline still holding its places,
or places free while someone waits and no list workflow runs) is nudged (signal-with-start).

A run is bounded: each search has a few attempts of `search_timeout_seconds`, each repair a
few attempts, and a run takes on at most `batch` of each kind (the rest waits for the next
run). What fails is reported and left for the next run, never retried for ever: a stuck run
would hold back every later one.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.payments import PaymentActivities
    from activities.repairs import RepairActivities
    from activities.webhook_signals import DeliveryStarter
    from core.enums import BookingStatus, DeliveryOutcome, EmailKind
    from messages.booking import EmailRequest, Transition
    from messages.payments import RefundRequest
    from messages.repairs import (
        OrphanHold,
        RefundsMade,
        RepairReport,
        SafetyNetInput,
        StalledList,
        UnclaimedPayment,
    )
    from workflows.options import (
        DATABASE_STEP,
        SAFETY_NET_WAITING_LISTS,
        STRIPE_STEP,
        StepOptions,
    )
    from workflows.steps import BookingSteps

SAFETY_NET_ID = "booking-safety-net"
RELEASED_REASON = "its workflow ended before the booking did: places released by the safety net"
# A schedule's run that takes longer than this is cut, and the next one starts.
RUN_TIMEOUT = timedelta(minutes=30)
# A repair that fails this often is reported and left for the next run.
_REPAIR_RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=10))
_DATABASE_REPAIR: StepOptions = {**DATABASE_STEP, "retry_policy": _REPAIR_RETRY}
_STRIPE_REPAIR: StepOptions = {**STRIPE_STEP, "retry_policy": _REPAIR_RETRY}
_EMAIL_REPAIR: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": _REPAIR_RETRY,
}


Found = TypeVar("Found")
Search = Callable[[RepairActivities, SafetyNetInput], Awaitable[list[Found]]]


def _search(input: SafetyNetInput) -> StepOptions:
    """A search reads every place holder, or every recent payment: its own timeout, 3 tries."""
    return {
        "start_to_close_timeout": timedelta(seconds=input.search_timeout_seconds),
        "retry_policy": RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=10)),
    }


@workflow.defn
class SafetyNetWorkflow:
    @workflow.run
    async def run(self, input: SafetyNetInput) -> RepairReport:
        report = RepairReport()
        # Places first: their search needs only PostgreSQL and Temporal, not Stripe.
        holds = await self._find(report, "find orphan holds", RepairActivities.orphan_holds, input)
        for hold in holds:
            await self._repair(report, hold.booking_id, self._release(report, hold))
        payments = await self._find(
            report, "find unclaimed payments", RepairActivities.unclaimed_payments, input
        )
        for payment in payments:
            await self._repair(report, payment.payment_intent_id, self._refund(report, payment))
        if input.webhook_sweep is not None:
            await self._repair(report, "wake stale webhook deliveries", self._wake(report, input))
        emails = await self._find(
            report, "find failed emails", RepairActivities.failed_emails, input
        )
        for email in emails:
            what = f"email {email.kind} of {email.booking_id}"
            await self._repair(report, what, self._send(report, email))
        if workflow.patched(SAFETY_NET_WAITING_LISTS):
            lists = await self._find(
                report, "find stalled waiting lists", RepairActivities.stalled_lists, input
            )
            for stalled in lists:
                what = f"nudge the waiting list of {stalled.session_id}"
                await self._repair(report, what, self._nudge(report, stalled))
        workflow.set_current_details(
            f"released {len(report.released)} holds (kept {len(report.kept)}), refunded"
            f" {len(report.refunded)} payments, woke {report.webhook_deliveries_woken} webhook"
            f" deliveries, sent {len(report.emails_retried)} failed emails again, nudged"
            f" {len(report.lists_nudged)} waiting lists, {len(report.failed)} failed"
        )
        return report

    async def _find(
        self,
        report: RepairReport,
        summary: str,
        method: "Search[Found]",
        input: SafetyNetInput,
    ) -> list[Found]:
        """What the search found, or nothing (reported) when it failed at its bound."""
        try:
            return await workflow.execute_activity_method(
                method, input, summary=summary, **_search(input)
            )
        except ActivityError as err:
            report.failed[summary] = str(err.cause or err)
            return []

    async def _repair(self, report: RepairReport, what: str, repair: Awaitable[None]) -> None:
        """One repair; one that fails at its bound is reported, and the run goes on."""
        try:
            await repair
        except ActivityError as err:
            report.failed[what] = str(err.cause or err)

    async def _release(self, report: RepairReport, hold: OrphanHold) -> None:
        released = await workflow.execute_activity_method(
            RepairActivities.release,
            hold,
            summary=f"release the held places of {hold.booking_id}",
            **_DATABASE_REPAIR,
        )
        if not released:
            report.kept.append(hold.booking_id)  # confirmed since the search: its places stay
            return
        report.released.append(hold.booking_id)
        if hold.workflow_open or hold.status != BookingStatus.PENDING_PAYMENT:
            return  # a live workflow records its own ending
        await workflow.execute_activity_method(
            InventoryActivities.record,
            Transition(hold.booking_id, BookingStatus.CANCELLED, RELEASED_REASON),
            **_DATABASE_REPAIR,
        )

    async def _refund(self, report: RepairReport, payment: UnclaimedPayment) -> None:
        """The same refund (key and reason) a live booking workflow would make of late money:
        all that remains, or only what no booking holds when a booking that was confirmed
        keeps a part of the intent (a split's other half); then recorded on its booking (the
        intent's opener, whom the refund names) as the safety net's."""
        refund = await workflow.execute_activity_method(
            PaymentActivities.refund,
            RefundRequest(
                payment.booking_id,
                payment.payment_intent_id,
                "late-payment",
                amount=None if payment.in_full else payment.amount,
                stripe_account_id=payment.stripe_account_id,
            ),
            summary=f"refund {payment.payment_intent_id} (late-payment)",
            **_STRIPE_REPAIR,
        )
        report.refunded.append(payment.payment_intent_id)
        await workflow.execute_activity_method(
            RepairActivities.record_refunds,
            RefundsMade(payment.booking_id, [refund.id]),
            summary=f"record refund {refund.id} on {payment.booking_id}",
            **_DATABASE_REPAIR,
        )
        await BookingSteps(payment.booking_id).send_email(
            EmailKind.LATE_PAYMENT_REFUNDED, refund.amount
        )

    async def _wake(self, report: RepairReport, input: SafetyNetInput) -> None:
        assert input.webhook_sweep is not None
        report.webhook_deliveries_woken = await workflow.execute_activity_method(
            DeliveryStarter.wake_stale,
            input.webhook_sweep,
            summary="wake stale webhook deliveries",
            **_search(input),
        )

    async def _nudge(self, report: RepairReport, stalled: StalledList) -> None:
        await workflow.execute_activity_method(
            RepairActivities.nudge_list,
            stalled,
            summary=f"nudge the waiting list ({stalled.reason})",
            **_DATABASE_REPAIR,
        )
        report.lists_nudged.append(stalled.session_id)

    async def _send(self, report: RepairReport, email: EmailRequest) -> None:
        """A failed email, sent again; refused again, it is reported and stays failed."""
        outcome = await workflow.execute_activity_method(
            RepairActivities.send_again,
            email,
            summary=f"email {email.kind} again",
            **_EMAIL_REPAIR,
        )
        if outcome.status == DeliveryOutcome.REFUSED:
            report.failed[outcome.key] = "refused again"
        else:
            report.emails_retried.append(outcome.key)
