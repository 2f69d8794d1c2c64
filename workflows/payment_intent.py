"""The booking's PaymentIntent as its workflow reaches it at Stripe: cancelled when the hold
ends or a cancel comes, read when a payment event comes. While the booking is pending, each
wait on Stripe is bounded (`payment_grace_seconds`), so the hold ends on time when Stripe is
down; what is then left unsettled is settled once the places are free."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from messages.payments import PaymentIntentInfo, PaymentState
    from workflows.booking_state import BookingState
    from workflows.steps import BookingSteps


class PaymentIntent:
    """The intent of the booking `state` holds; `grace` bounds a pending booking's waits."""

    def __init__(self, steps: BookingSteps, state: BookingState, grace: timedelta) -> None:
        self._steps = steps
        self._state = state
        self._grace = grace
        # A cancelled PaymentIntent can never be paid: no late payment to wait for.
        self.cancelled = False
        # Stripe did not answer a cancellation in time: the intent may still be paid later.
        self.unsettled = False

    async def cancel_while_pending(self) -> PaymentIntentInfo | None:
        """None when Stripe did not answer within the grace: the hold ends all the same."""
        intent_id = self._state.payment_intent_id
        try:
            intent = await self._steps.cancel_intent(intent_id, self._within(timedelta(0)))
        except ActivityError as err:
            workflow.logger.warning("could not cancel %s: %s", intent_id, err)
            self.unsettled = True
            return None
        self.cancelled = intent.status == PaymentState.VOID
        return intent

    async def settle(self) -> PaymentIntentInfo:
        """Cancel an unsettled intent: the places are free already, so now Stripe may take as
        long as it needs."""
        intent = await self._steps.cancel_intent(self._state.payment_intent_id)
        self.cancelled = intent.status == PaymentState.VOID
        return intent

    async def read_while_pending(self) -> PaymentIntentInfo | None:
        """The intent, or None when Stripe did not answer before the hold ends."""
        within = self._within(self._state.booking.hold_expires_at - workflow.now())
        intent_id = self._state.payment_intent_id
        try:
            return await self._steps.read_intent(intent_id, within)
        except FailureError as err:  # local activities raise ApplicationError, not ActivityError
            workflow.logger.warning("could not read %s: %s", intent_id, err)
            return None

    async def read(self) -> PaymentIntentInfo:
        return await self._steps.read_intent(self._state.payment_intent_id)

    def _within(self, at_least: timedelta) -> timedelta:
        """How long a pending booking waits on Stripe before the hold's end decides."""
        return max(at_least, self._grace)
