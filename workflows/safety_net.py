"""The safety net: started by a Temporal Schedule, it puts right what no booking workflow will.

A booking workflow that was terminated (operators can, in the UI) or is stuck leaves its
places held and would keep a late payment; this releases such places and refunds such money,
telling the customer, and reports what it repaired.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.repairs import RepairActivities
    from activities.webhook_signals import DeliveryStarter
    from models.booking import Transition
    from models.enums import BookingStatus, EmailKind
    from models.repairs import OrphanHold, RepairReport, SafetyNetInput, UnclaimedPayment
    from workflows.options import DATABASE_STEP, SEARCH_STEP, WEBHOOK_SWEEP_PATCH
    from workflows.steps import BookingSteps

SAFETY_NET_ID = "booking-safety-net"
RELEASED_REASON = "its workflow ended before the booking did: places released by the safety net"


@workflow.defn
class SafetyNetWorkflow:
    @workflow.run
    async def run(self, input: SafetyNetInput) -> RepairReport:
        report = RepairReport()
        # Places first: their search needs only PostgreSQL and Temporal, not Stripe.
        holds = await workflow.execute_activity_method(
            RepairActivities.orphan_holds, input, summary="find orphan holds", **SEARCH_STEP
        )
        for hold in holds:
            await self._release(hold)
            report.released.append(hold.booking_id)
        payments = await workflow.execute_activity_method(
            RepairActivities.unclaimed_payments,
            input,
            summary="find unclaimed payments",
            **SEARCH_STEP,
        )
        for payment in payments:
            await self._refund(payment)
            report.refunded.append(payment.payment_intent_id)
        if input.webhook_sweep is not None and workflow.patched(WEBHOOK_SWEEP_PATCH):
            report.webhook_deliveries_woken = await workflow.execute_activity_method(
                DeliveryStarter.wake_stale,
                input.webhook_sweep,
                summary="wake stale webhook deliveries",
                **SEARCH_STEP,
            )
        workflow.set_current_details(
            f"released {len(report.released)} holds, refunded {len(report.refunded)} payments,"
            f" woke {report.webhook_deliveries_woken} webhook deliveries"
        )
        return report

    async def _release(self, hold: OrphanHold) -> None:
        await BookingSteps(hold.booking_id).release()
        if hold.workflow_open or hold.status != BookingStatus.PENDING_PAYMENT:
            return  # a live workflow records its own ending
        await workflow.execute_activity_method(
            InventoryActivities.record,
            Transition(hold.booking_id, BookingStatus.CANCELLED, RELEASED_REASON),
            **DATABASE_STEP,
        )

    async def _refund(self, payment: UnclaimedPayment) -> None:
        """The same refund (key and reason) a live booking workflow would make of late money."""
        steps = BookingSteps(payment.booking_id or payment.payment_intent_id)
        refund = await steps.refund(payment.payment_intent_id, "late-payment")
        if payment.booking_id is not None:  # else there is nobody we could tell
            await steps.send_email(EmailKind.LATE_PAYMENT_REFUNDED, refund.amount)
