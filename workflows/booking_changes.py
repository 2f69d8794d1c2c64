"""How a CONFIRMED booking changes: orders (an admin's refund, places given back, a move to
another session: `booking_move`) queued by their updates and carried out one at a time by the
workflow's main loop, and a cancel refunded by the refund policy, or in full once the session
is cancelled.

Every change is checked, then Stripe's refunds are read back, then it is checked again against
what remains at Stripe, then the refund is asked of Stripe, and only then does anything else
move: a refund Stripe refuses changes nothing but its sequence number. The session's
cancellation outranks a customer's cancel, even one that closed the booking already
(`session_refund_due`)."""

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core import booking_rules as rules
    from core.enums import BookingStatus, RefundSource
    from core.errors import BookingNotChangeable, PaymentProviderUnavailable, RefundExceedsRemaining
    from core.pricing import kept
    from core.refund_policy import refund_amount
    from messages.booking import (
        BookingView,
        CancelRequest,
        MoveOrder,
        PlacesCancellation,
        RefundOrder,
        Repriced,
        Timings,
    )
    from messages.payments import PaymentEvent
    from messages.session_changes import IN_FULL_AFTER_A_CHANGE
    from messages.sessions import SESSION_CANCELLED_REASON
    from workflows import visibility
    from workflows.booking_move import BookingMove
    from workflows.booking_state import BookingState
    from workflows.mailbox import Order, Queued
    from workflows.refund_book import RefundBook
    from workflows.steps import BookingSteps, outcome


class BookingChanges:
    """The changes of the booking `state` holds, its refunds kept in `refunds`."""

    def __init__(
        self,
        steps: BookingSteps,
        state: BookingState,
        refunds: RefundBook,
        grace: timedelta,
        timings: Timings,
    ) -> None:
        self._steps = steps
        self._state = state
        self._refunds = refunds
        self._mailbox = state.mailbox
        self._move = BookingMove(steps, state, refunds, grace, timings)
        # The cancel whose refund closed the booking (`refund_for_session`).
        self._closed_by: CancelRequest | None = None

    # ---- orders ---------------------------------------------------------------------------

    def check_refund(self, order: RefundOrder) -> None:
        """An admin's refund, against what remains paid once the refunds queued are made."""
        rules.check_changeable(self._state.status, self._mailbox.cancel is not None)
        queued = [queued.order for queued in self._mailbox.orders]
        refunding = sum(order.amount for order in queued if isinstance(order, RefundOrder))
        rules.check_refund(order.amount, order.reason, self._refunds.remaining - refunding)

    def check_places(self, order: PlacesCancellation) -> None:
        rules.check_changeable(self._state.status, self._mailbox.cancel is not None)
        self._places_to_cancel(order, workflow.now())

    def check_move(self, order: MoveOrder) -> None:
        rules.check_changeable(self._state.status, self._mailbox.cancel is not None)
        self._move.check(order, workflow.now())

    async def carry_out(self, order: Order) -> BookingView:
        """Queue the order for the main loop (one change at a time) and answer its outcome."""
        info = workflow.current_update_info()
        assert info is not None
        self._mailbox.accept_order(info.id, order)
        await workflow.wait_condition(lambda: info.id in self._mailbox.answers)
        answer = self._mailbox.answers[info.id]
        if isinstance(answer, ApplicationError):
            raise answer
        return answer

    async def carry_out_next_order(self) -> None:
        queued = self._mailbox.orders.pop(0)
        try:
            await self._carry_out_order(queued)
        except FailureError as err:
            # A rule said no, Stripe refused the refund, or it did not answer within the step's
            # bound: that order fails (nothing moved), not the booking.
            self._mailbox.answers[queued.update_id] = outcome(err)
            return
        self._mailbox.answers[queued.update_id] = self._state.booking

    def _answer(self, update_id: str) -> Callable[[BookingView], None]:
        """Answer an order's caller before it is carried out to the end (a dearer move's
        payment to make); its outcome later changes nothing for that caller."""

        def answer(view: BookingView) -> None:
            self._mailbox.answers[update_id] = view

        return answer

    async def late_move_payment(self, event: PaymentEvent) -> bool:
        """True when `event` is about a dearer move given up: its late payment is refunded
        (Stripe not answering within the step's bound leaves it to the safety net, logged)."""
        if not self._move.is_abandoned(event):
            return False
        try:
            await self._move.refund_late_payment(event)
        except FailureError as err:
            workflow.logger.warning("late move payment left: %s", outcome(err).message)
        return True

    def refuse_orders(self) -> None:
        """Orders that came after the booking's end was decided are refused."""
        while self._mailbox.orders:
            queued = self._mailbox.orders.pop(0)
            refusal = BookingNotChangeable(f"the booking is {self._state.status}")
            self._mailbox.answers[queued.update_id] = refusal

    async def _carry_out_order(self, queued: Queued) -> None:
        # Checked again: an earlier order or a refund at Stripe may have changed the booking.
        await self._refunds.catch_up()
        order = queued.order
        if isinstance(order, RefundOrder):
            rules.check_refund(order.amount, order.reason, self._refunds.remaining)
            refunds = await self._refunds.refund_part(
                order.amount, order.reason, RefundSource.ADMIN
            )
            await self._refunds.follow(refunds)
        elif isinstance(order, MoveOrder):
            await self._move.carry_out(order, queued.accepted_at, self._answer(queued.update_id))
        else:
            labels = self._places_to_cancel(order, queued.accepted_at)
            await self._cancel_places(order, labels, queued.accepted_at)

    def _places_to_cancel(self, order: PlacesCancellation, accepted_at: datetime) -> list[str]:
        """The labels the order names, or the business error that refuses it."""
        held = self._state.booking.seat_labels
        labels = order.labels_of(held)
        rules.check_places_to_cancel(
            labels,
            held,
            reason=order.reason,
            seat_labels=order.seat_labels,
            count=order.count,
            starts_at=self._state.places.session_starts_at,
            accepted_at=accepted_at,
        )
        return labels

    async def _cancel_places(
        self, order: PlacesCancellation, labels: list[str], accepted_at: datetime
    ) -> None:
        """Refund at Stripe first (refused: nothing has moved), then release the places at the
        price kept, then record the refund."""
        places, booking = self._state.places, self._state.booking
        keep = [label for label in booking.seat_labels if label not in labels]
        # What the places as sold (or as moved to, `BookingMove`) cost: what was paid for
        # them, for a booking that never moved.
        price = kept(places.amount_total, places.unit_amount, places.seat_labels, keep)
        percent = rules.policy_percent(places.refund_policy, places.session_starts_at, accepted_at)
        given_back = booking.amount_total - price.total
        amount = rules.places_refund(given_back, percent, self._refunds.remaining)
        reason = f"{order.reason}: {', '.join(labels)}"
        asked = await self._refunds.ask(amount, RefundSource.PLACES) if amount > 0 else []
        await self._steps.release_some(
            labels, Repriced(keep, price.subtotal, price.discount, price.total)
        )
        self._state.revise(
            seat_labels=keep,
            amount_subtotal=price.subtotal,
            discount=price.discount,
            amount_total=price.total,
        )
        workflow.set_current_details(visibility.current_details(self._state.booking))
        if asked:
            await self._refunds.follow(
                await self._refunds.note_all(asked, reason, RefundSource.PLACES)
            )

    # ---- a cancel -------------------------------------------------------------------------

    async def cancel_by_policy(self) -> None:
        """The customer's cancel refunds what the policy in force when it was accepted gives
        back; the session's cancellation refunds everything, also when it comes while a
        customer's cancel is being carried out (a further pass refunds the rest), or when it
        committed before the customer's close could be recorded (`Transition`). A refund Stripe
        refuses still ends the booking: CANCELLED, the refusal in its status reason; one Stripe
        did not answer in time refuses the cancel instead (`_cancel_failed`)."""
        refunded = 0
        while True:
            cancel, refused = self._cancel, None
            try:
                refunded += await self._refund_for_cancel(cancel)
            except FailureError as err:
                refused = await self._cancel_failed(outcome(err), refunded)
                if refused is None:
                    return
            if self._state.status != BookingStatus.CONFIRMED:
                return  # nothing remained at Stripe: REFUNDED
            if refused is None and not cancel.session_cancelled and self._cancel.session_cancelled:
                continue  # the session's cancellation came meanwhile: refund the rest
            if await self._close_cancelled(refunded, refused):
                return
            # The session's cancellation committed first; its own cancel may reach this
            # workflow only once it has closed, too late to outrank the policy: do it now.
            upgrade = CancelRequest(SESSION_CANCELLED_REASON, session_cancelled=True)
            self._mailbox.accept_cancel(upgrade)

    @property
    def session_refund_due(self) -> bool:
        """A customer's cancel closed the booking CANCELLED (the policy kept some), then the
        session's cancellation came: true until its refund of the rest is over."""
        closed_by, cancel = self._closed_by, self._mailbox.cancel
        return bool(
            closed_by
            and not closed_by.session_cancelled
            and cancel
            and cancel.session_cancelled
            and self._state.status == BookingStatus.CANCELLED
        )

    async def refund_for_session(self) -> None:
        """What the customer's cancel kept is refunded too: REFUNDED. Stripe refusing, or not
        answering within the step's bound, leaves the booking as the customer's cancel closed
        it (logged; the session's cancellation is answered with it)."""
        cancel = self._cancel
        try:
            refunded = await self._refund_for_cancel(cancel)
            if refunded and self._state.status != BookingStatus.REFUNDED:
                await self._state.close(BookingStatus.REFUNDED, cancel.reason, refunded)
        except FailureError as err:
            workflow.logger.warning("the session's refund not made: %s", outcome(err).message)
        finally:
            self._closed_by = cancel  # the session's cancellation is answered now

    async def _close_cancelled(self, refunded: int, refused: str | None) -> bool:
        """Close as the cancel leaves it; False (nothing recorded) if a customer's close came
        after the session's cancellation."""
        self._closed_by = self._cancel
        fully = refunded > 0 and self._refunds.remaining == 0
        status = BookingStatus.REFUNDED if fully else BookingStatus.CANCELLED
        reason = self._cancel.reason + (f"; {refused}" if refused else "")
        if fully and self._by_window(self._cancel):
            reason += f"; {IN_FULL_AFTER_A_CHANGE}"
        # A free booking's email says nothing of refunds, nor one whose refund Stripe refused
        # (no "nothing is due"); a paid one says what came back.
        told = self._state.booking.amount_paid and not (refused and not refunded)
        by_policy = status == BookingStatus.CANCELLED and not self._cancel.session_cancelled
        return await self._state.close(
            status, reason, refunded if told else None, unless_session_cancelled=by_policy
        )

    async def _refund_for_cancel(self, cancel: CancelRequest) -> int:
        """Read Stripe's refunds back (nothing remains: the booking closes REFUNDED), then
        refund what `cancel` gives back of what remains; the amount refunded."""
        await self._refunds.catch_up()
        if self._refunds.remaining <= 0:
            return 0
        places, accepted_at = self._state.places, self._mailbox.cancel_accepted_at
        assert accepted_at is not None  # set with the cancel (`Mailbox.accept_cancel`)
        percent = rules.policy_percent(
            places.refund_policy,
            places.session_starts_at,
            accepted_at,
            in_full=cancel.session_cancelled or self._by_window(cancel),
        )
        amount = refund_amount(self._refunds.remaining, percent)
        if not amount:
            return 0
        source = (
            RefundSource.SESSION_CANCELLED
            if cancel.session_cancelled
            else RefundSource.CUSTOMER_POLICY
        )
        refunds = await self._refunds.refund_part(amount, cancel.reason, source)
        return sum(refund.amount for refund in refunds)

    async def _cancel_failed(self, refusal: ApplicationError, refunded: int) -> str | None:
        """The refusal for the CANCELLED booking's status reason, or None when it does not
        close so: a refund made at Stripe meanwhile left nothing (closed REFUNDED), or Stripe
        did not answer before anything was refunded (the cancel is refused with a 503 and the
        booking stays CONFIRMED: the caller may cancel again)."""
        if refusal.type == RefundExceedsRemaining.__name__:
            with contextlib.suppress(FailureError):  # not read: closed with the refusal
                await self._refunds.catch_up()
            if self._state.status != BookingStatus.CONFIRMED:
                return None
        elif refusal.type == PaymentProviderUnavailable.__name__ and not refunded:
            workflow.logger.warning("cancel refused: %s", refusal.message)
            self._mailbox.give_up_cancel(refusal)
            return None
        workflow.logger.warning("refund refused: %s", refusal.message)
        return f"the refund was refused: {refusal.message}"

    def _by_window(self, cancel: CancelRequest) -> bool:
        """A customer's cancel accepted within the accept-or-refund window of a change of the
        session's time: refunded in full whatever the policy."""
        accepted_at = self._mailbox.cancel_accepted_at
        return (
            not cancel.session_cancelled
            and accepted_at is not None
            and self._state.refunds_in_full(accepted_at)
        )

    @property
    def _cancel(self) -> CancelRequest:
        assert self._mailbox.cancel is not None
        return self._mailbox.cancel
