"""Refunds made at Stripe after a booking's workflow has ended, recorded on the booking anyway
(over all its claims: its own intent, each dearer move's difference, and the parts of another
booking's intents a partial move handed over to it; on an intent several bookings claim, the
refunds that name it, or name none on an intent it opened).

Started (or told, when running) by the Stripe webhook when a signed `charge.refunded` finds the
booking's workflow closed, and by the safety net for its own refunds. One per booking (its id
is derived from the booking's), so its refunds are numbered one after another. It lists the
refunds Stripe holds, records those the booking does not know with the record function every
refund goes through (with the `booking.refunded` webhook out), gives each a credit note when
the booking had a receipt, and lets the status follow: REFUNDED once nothing remains paid.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.repairs import REFUNDS_MADE_SIGNAL, STRIPE_REFUNDS_WORKFLOW, RepairActivities
    from core.enums import BookingStatus, DocumentKind, EmailKind, RefundSource
    from messages.booking import Refund, Transition
    from messages.payments import RefundInfo
    from messages.repairs import BookingMoney, RefundsMade, StripeRefundsInput
    from workflows.options import DATABASE_STEP, SHARED_INTENTS
    from workflows.steps import BookingSteps

STRIPE_REASON = "refunded at Stripe"
SAFETY_NET_REASON = "refunded by the safety net: paid for a booking that had ended"


@workflow.defn(name=STRIPE_REFUNDS_WORKFLOW)
class StripeRefundsWorkflow:
    def __init__(self) -> None:
        self._by_safety_net: set[str] = set()
        self._told = 0
        self._claims = False  # its money is its claims (SHARED_INTENTS)

    @workflow.signal(name=REFUNDS_MADE_SIGNAL)
    def refunds_made(self, notice: RefundsMade) -> None:
        self._by_safety_net.update(notice.by_safety_net)
        self._told += 1

    @workflow.run
    async def run(self, input: StripeRefundsInput) -> list[str]:
        """The Stripe refund ids it recorded. Reads again for each notice that came meanwhile."""
        self._claims = workflow.patched(SHARED_INTENTS)
        recorded: list[str] = []
        read = -1
        while read < self._told:
            read = self._told
            recorded += await self._record_new(input.booking_id)
        return recorded

    async def _record_new(self, booking_id: str) -> list[str]:
        money = await workflow.execute_activity_method(
            RepairActivities.booking_money, booking_id, **DATABASE_STEP
        )
        if money is None:
            return []
        steps = BookingSteps(booking_id)
        at_stripe = (
            await self._its_refunds(steps, money)
            if self._claims
            else await self._refunds_of_own_intents(steps, money)
        )
        new = [r for r in at_stripe if r.id not in money.recorded]
        refunds = [
            await self._record(steps, money, info, sequence)
            for sequence, info in enumerate(new, start=money.last_sequence + 1)
        ]
        if refunds and money.confirmed:
            await self._follow(steps, money, at_stripe, refunds)
        return [refund.stripe_refund_id for refund in refunds]

    @staticmethod
    async def _its_refunds(steps: BookingSteps, money: BookingMoney) -> list[RefundInfo]:
        """The refunds at Stripe that are the booking's, over its claims: on an intent several
        bookings claim, those naming it (or none, on an intent it opened)."""
        found = []
        for claim in money.claims:
            refunds = await steps.list_refunds(claim.payment_intent_id)
            found += [r for r in refunds if r.counts and claim.owns(money.booking_id, r)]
        return found

    @staticmethod
    async def _refunds_of_own_intents(steps: BookingSteps, money: BookingMoney) -> list[RefundInfo]:
        """Before SHARED_INTENTS: every refund of its own intent and its moves' differences."""
        if money.payment_intent_id is None:
            return []
        found = []
        for intent in [money.payment_intent_id, *money.moved_payments]:
            found += [r for r in await steps.list_refunds(intent) if r.counts]
        return found

    async def _record(
        self, steps: BookingSteps, money: BookingMoney, info: RefundInfo, sequence: int
    ) -> Refund:
        ours = info.id in self._by_safety_net
        reason = SAFETY_NET_REASON if ours else STRIPE_REASON
        source = RefundSource.SAFETY_NET if ours else RefundSource.STRIPE
        refund = Refund(sequence, info.amount, reason, info.id, workflow.now(), source)
        await steps.record_refund(money.currency, refund)
        if money.has_receipt:
            await steps.issue_document(DocumentKind.CREDIT_NOTE, None, refund)
        return refund

    async def _follow(
        self,
        steps: BookingSteps,
        money: BookingMoney,
        at_stripe: list[RefundInfo],
        refunds: list[Refund],
    ) -> None:
        """REFUNDED (places released) once nothing it was paid remains, else tell the customer
        of each refund."""
        refunded = sum(r.amount for r in at_stripe)
        if refunded < await self._paid(steps, money):
            for refund in refunds:
                await steps.send_email(EmailKind.PARTLY_REFUNDED, refund.amount, refund.sequence)
            return
        if money.status == BookingStatus.REFUNDED:
            return
        await steps.release()
        await workflow.execute_local_activity_method(
            InventoryActivities.record,
            Transition(money.booking_id, BookingStatus.REFUNDED, refunds[-1].reason),
            summary=f"record {BookingStatus.REFUNDED}",
            **DATABASE_STEP,
        )
        await steps.send_email(EmailKind.REFUNDED, refunded, refunds[-1].sequence)

    async def _paid(self, steps: BookingSteps, money: BookingMoney) -> int:
        """What it was paid (its claims); before SHARED_INTENTS, what Stripe received on its
        intents (a shared intent received more than the booking's part)."""
        if self._claims:
            return money.paid
        received = 0
        for intent_id in [money.payment_intent_id or "", *money.moved_payments]:
            received += (await steps.read_intent(intent_id)).amount_received
        return received
