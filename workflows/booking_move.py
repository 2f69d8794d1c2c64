"""A CONFIRMED booking moving to another session of its organisation, carried out as one of
its workflow's orders (`BookingChanges`): the target's places held first, then the money
(a cheaper target refunds the difference by the source session's policy in force when the move
was accepted; the same price moves nothing), then the move settled (the target's places sold
and the source's freed in one transaction), then the credit note of the refund and the
customer's email with the old event's cancellation and the new one.

A refusal anywhere before the move is settled gives the target's places back: the booking is
as it was. A target dearer than what the booking paid is refused (not built yet).

The booking keeps its id and reference; its places, amounts and session are the target's, and
`state.places` the target's reservation, so later orders price and refund against it."""

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core import booking_rules as rules
    from core.enums import EmailKind, RefundSource
    from core.errors import BookingNotChangeable, InvalidRequest
    from messages.booking import HoldMove, MoveOrder, Refund, Reservation, SettleMove
    from messages.payments import RefundInfo
    from workflows import visibility
    from workflows.booking_state import BookingState
    from workflows.refund_book import RefundBook
    from workflows.steps import BookingSteps


class BookingMove:
    """Moves of the booking `state` holds, refunded through `refunds`."""

    def __init__(self, steps: BookingSteps, state: BookingState, refunds: RefundBook) -> None:
        self._steps = steps
        self._state = state
        self._refunds = refunds

    def check(self, order: MoveOrder, at: datetime) -> None:
        """What the workflow alone can tell: the target's rules are the hold's."""
        rules.check_text(order.reason)
        rules.check_changeable(self._state.status, cancel_pending=False)
        places = self._state.places
        if order.session_id == places.session_id:
            raise InvalidRequest("the booking is in this session already")
        if rules.started(places.session_starts_at, at):
            raise BookingNotChangeable("the session has started")

    async def carry_out(self, order: MoveOrder, accepted_at: datetime) -> None:
        self.check(order, accepted_at)
        booking = self._state.booking
        hold = HoldMove(booking.id, order.session_id, len(booking.seat_labels))
        to = await self._steps.hold_move(hold)
        try:
            refund = await self._refund_difference(to, accepted_at)
        except FailureError:
            await self._steps.release_move(hold)
            raise
        source = self._state.places
        try:
            settled = await self._steps.settle_move(SettleMove(booking.id, source.session_id, to))
        except FailureError:
            await self._steps.release_move(hold)
            if refund is not None:  # made at Stripe: the booking stays, with the refund
                await self._note(refund, f"{order.reason}: the move was refused")
            raise
        self._state.reservation, self._state.moves = to, settled.move_number
        self._state.revise(
            session_id=to.session_id,
            seat_labels=to.seat_labels,
            amount_subtotal=to.amount_subtotal,
            discount=to.discount,
            amount_total=to.amount_total,
        )
        visibility.publish_moved(self._state.booking)
        noted = await self._note(refund, order.reason) if refund is not None else None
        await self._state.send_email(
            EmailKind.MOVED,
            noted.amount if noted else None,
            noted.sequence if noted else None,
            source.session_id,
        )

    async def _refund_difference(
        self, to: Reservation, accepted_at: datetime
    ) -> tuple[RefundInfo, int] | None:
        """The difference refunded at Stripe when the target is cheaper, by the source's
        policy; None when nothing is refunded. A dearer target is refused."""
        booking, places = self._state.booking, self._state.places
        difference = booking.amount_total - to.amount_total
        if difference < 0:
            raise BookingNotChangeable(
                "the session moved to is dearer: moves that need a payment are not available",
                difference=-difference,
            )
        percent = rules.policy_percent(places.refund_policy, places.session_starts_at, accepted_at)
        amount = rules.places_refund(difference, percent, self._refunds.remaining)
        if amount <= 0:
            return None
        return await self._refunds.ask(amount, RefundSource.MOVE)

    async def _note(self, refund: tuple[RefundInfo, int], reason: str) -> Refund:
        """The refund recorded, with its credit note."""
        info, sequence = refund
        return await self._refunds.note(info, reason, RefundSource.MOVE, sequence)
