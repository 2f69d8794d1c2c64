"""One booking's workflow: the booking's state machine, and nothing else.

```mermaid
stateDiagram-v2
    [*] --> PENDING_PAYMENT: hold (update-with-start) - places held, PaymentIntent open
    [*] --> CONFIRMED: hold - nothing to pay, the places sold at once
    [*] --> REJECTED: hold - the setup refused (the workflow fails)
    PENDING_PAYMENT --> CONFIRMED: payment_event, Stripe says paid (or the hold timer finds it paid)
    PENDING_PAYMENT --> PENDING_PAYMENT: timer hold expires - payment processing, hold extended
    PENDING_PAYMENT --> EXPIRED: timer hold expires - not paid
    PENDING_PAYMENT --> CANCELLED: cancel, or payment_event - the intent cancelled at Stripe
    PENDING_PAYMENT --> REFUNDED: payment_event - paid, but unsellable or the wrong amount
    PENDING_PAYMENT --> CANCELLED: the same, the refund not made (the safety net makes it)
    CONFIRMED --> CONFIRMED: timer reminder, refund or cancel_places, payment_event refunded
    CONFIRMED --> COMPLETED: timer session ends
    CONFIRMED --> REFUNDED: cancel - all back, or refunds until nothing remains paid
    CONFIRMED --> CANCELLED: cancel - the policy kept some, Stripe refused, or nothing was paid
    CANCELLED --> REFUNDED: cancel by the session after a customer's cancel closed it
    EXPIRED --> [*]: timer late-payment window ends (a late payment is refunded first)
    CANCELLED --> [*]: timer late-payment window ends
    REFUNDED --> [*]
    COMPLETED --> [*]
```

Messages: the `hold` update answers the caller who started the booking; `cancel`, `refund`
(an admin's) and `cancel_places` are updates, validated before they are accepted;
`payment_event` is the webhook's signal. Stripe not answering a cancel's refund within the
step's bound refuses the cancel (503) and the booking stays CONFIRMED.

Money: what was paid less the refunds is what remains at Stripe; Stripe's refunds are read back
before every refund (`refund_book`). A change (an admin's refund, places given back) is checked,
refunded at Stripe, then carried out: a refusal fails that change alone and moves nothing. The
session's cancellation outranks a customer's cancel (refunded in full); a policy's percent is
the one in force when the change was accepted.

Where the rest lives: the checks in `core.booking_rules`, the activity calls in `steps`
(their options and the patch rule in `options`: read its header before editing this file),
the view and its writes in `booking_state`, the refunds in `refund_book`, the waiting messages
in `mailbox`, what operators see in `visibility`.

Orders wait in the mailbox's queue and the main loop carries them out, rather than each update
handler under an `asyncio.Lock`: the loop is what puts an order accepted before a cancel ahead
of it, and moving the work into the handlers would reorder the commands every committed history
holds. Longer than 350 lines for one reason: a workflow class is one object whose state every
handler and phase shares; its phases are in the order a booking lives them.
"""

import contextlib
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core import booking_rules as rules
    from core.errors import (
        BookingNotCancellable,
        BookingNotChangeable,
        IdempotencyKeyReused,
        PaymentProviderUnavailable,
        RefundExceedsRemaining,
        ServiceUnavailable,
        business_failure,
    )
    from core.pricing import kept
    from core.refund_policy import refund_amount
    from models.booking import (
        CANCELS_GIVEN_UP_QUERY,
        BookingView,
        BookingWorkflowInput,
        CancelRequest,
        Confirmation,
        PlacesCancellation,
        Refund,
        RefundOrder,
        Repriced,
        Reservation,
        closing_email,
    )
    from models.enums import (
        OPEN_STATUSES,
        BookingStatus,
        DocumentKind,
        EmailKind,
        RecordOutcome,
        RefundSource,
    )
    from models.payments import PaymentEvent, PaymentEventType, PaymentIntentInfo, PaymentState
    from models.sessions import SESSION_CANCELLED_REASON
    from workflows import visibility
    from workflows.booking_state import BookingState, held
    from workflows.mailbox import Mailbox, Order, Queued
    from workflows.options import HOLD_ANSWER_WAIT
    from workflows.refund_book import RefundBook, unrefunded_reason
    from workflows.steps import BookingSteps, outcome


@workflow.defn
class BookingWorkflow:
    @workflow.init
    def __init__(self, input: BookingWorkflowInput) -> None:
        self._request = input.request
        self._timings = input.timings
        self._steps = BookingSteps(input.request.booking_id)
        self._state = BookingState(self._steps)
        self._refunds = RefundBook(self._steps, self._state)
        self._mailbox = Mailbox()
        self._reservation: Reservation | None = None
        self._rejection: ApplicationError | None = None
        self._intent_cancelled = False
        # Stripe did not answer a cancellation in time: the intent may still be paid later.
        self._intent_unsettled = False
        self._hold_asked = False
        # The cancel whose refund closed the booking (`_refund_for_session`).
        self._closed_by: CancelRequest | None = None

    @workflow.run
    async def run(self, input: BookingWorkflowInput) -> BookingView:
        if not await self._hold_places():
            # The caller's `hold` update may reach us after the rejection: answer it before
            # failing. Failing (not completing) lets the same Idempotency-Key try again later.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._hold_asked, timeout=HOLD_ANSWER_WAIT)
            await workflow.wait_condition(workflow.all_handlers_finished)
            assert self._rejection is not None
            raise self._rejection
        await self._await_payment()
        if self._state.status == BookingStatus.CONFIRMED:
            await self._until_session_ends()
        else:
            await self._refund_late_payments()
        await self._after_the_end()
        return self._state.booking

    # ---- messages -------------------------------------------------------------------------

    @workflow.update
    async def hold(self, request_fingerprint: str) -> BookingView:
        """Answer the caller who started the booking once places and payment are set up."""
        self._hold_asked = True
        await workflow.wait_condition(lambda: self._state.view is not None or bool(self._rejection))
        if self._rejection is not None:
            raise self._rejection
        return self._state.booking

    @hold.validator
    def _same_request(self, request_fingerprint: str) -> None:
        IdempotencyKeyReused.unless_same(self._request.request_fingerprint, request_fingerprint)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> BookingView:
        """The booking once it has ended; asking again answers the same outcome. The session's
        cancellation (its own update id) outranks a customer's cancel, also one carried out
        already: it is answered once the rest is refunded (`_refund_for_session`)."""
        given_up = self._mailbox.accept_cancel(request)
        await workflow.wait_condition(
            lambda: (
                self._rejection is not None
                or (
                    self._state.status not in (None, *OPEN_STATUSES)
                    and not self._session_refund_due
                )
                or len(self._mailbox.cancels_given_up) > given_up
            )
        )
        if self._rejection is not None:
            raise BookingNotCancellable("the booking was never set up")
        if len(self._mailbox.cancels_given_up) > given_up:
            raise self._mailbox.cancels_given_up[given_up]
        return self._state.booking

    @cancel.validator
    def _cancellable(self, request: CancelRequest) -> None:
        rules.check_text(request.reason)
        if self._mailbox.cancel is not None:
            return  # asked before: answered with the same outcome
        status = BookingStatus.REJECTED if self._rejection else self._state.status
        starts_at = self._reservation.session_starts_at if self._reservation else None
        rules.check_cancellable(status, starts_at, workflow.now())

    @workflow.update
    async def refund(self, order: RefundOrder) -> BookingView:
        """An admin's refund of part or all of what remains paid; REFUNDED once nothing does.
        The same update id answers the same outcome."""
        return await self._carry_out(order)

    @refund.validator
    def _refundable(self, order: RefundOrder) -> None:
        rules.check_changeable(self._state.status, self._mailbox.cancel is not None)
        # What remains paid once the refunds already queued are made.
        queued = [queued.order for queued in self._mailbox.orders]
        refunding = sum(order.amount for order in queued if isinstance(order, RefundOrder))
        rules.check_refund(order.amount, order.reason, self._refunds.remaining - refunding)

    @workflow.update
    async def cancel_places(self, order: PlacesCancellation) -> BookingView:
        """Give some places back: each refunds, by the policy in force when the order was
        accepted, its share of what was paid; the places kept keep theirs (`core.pricing.kept`)."""
        return await self._carry_out(order)

    @cancel_places.validator
    def _places_cancellable(self, order: PlacesCancellation) -> None:
        rules.check_changeable(self._state.status, self._mailbox.cancel is not None)
        self._places_to_cancel(order, workflow.now())

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        self._mailbox.post(event)

    @workflow.query(name=CANCELS_GIVEN_UP_QUERY)
    def cancels_given_up(self) -> int:
        """How many cancels were given up: the next cancel's update id counts them
        (`cancel_update_id`)."""
        return len(self._mailbox.cancels_given_up)

    @workflow.query
    def view(self) -> BookingView | None:
        return self._state.view

    # ---- lifecycle ------------------------------------------------------------------------

    async def _hold_places(self) -> bool:
        request = self._request
        try:
            reservation = await self._steps.reserve(request)
        except (ActivityError, ApplicationError) as err:  # local activities raise the latter
            return self._reject(err)
        self._reservation = reservation
        if reservation.amount_total == 0:
            return await self._sell_free(reservation)
        try:
            intent = await self._steps.open_payment(reservation, request.customer_email)
        except (ActivityError, ApplicationError) as err:
            await self._steps.discard()
            return self._reject(err)
        self._state.show(held(request.booking_id, reservation, intent))  # recorded by the step
        return True

    async def _sell_free(self, reservation: Reservation) -> bool:
        """Nothing to pay: no PaymentIntent, the places sold at once, a receipt for 0."""
        try:
            confirmation = await self._steps.confirm()
        except (ActivityError, ApplicationError) as err:  # the session was cancelled meanwhile
            await self._steps.discard()
            return self._reject(err)
        await self._sold(held(self._request.booking_id, reservation, None), confirmation, None)
        return True

    async def _await_payment(self) -> None:
        """Race payment events and cancellation against the hold timer."""
        extensions = 0
        while self._state.status == BookingStatus.PENDING_PAYMENT:
            if not await self._wait_for_message(
                self._state.booking.hold_expires_at, "hold expires"
            ):
                intent = await self._cancel_intent()
                if intent is None:
                    await self._close(
                        BookingStatus.EXPIRED, "the hold ended; Stripe did not answer"
                    )
                elif (
                    intent.status == PaymentState.PROCESSING
                    and extensions < self._timings.max_hold_extensions
                ):
                    extensions += 1
                    await self._extend_hold()
                elif intent.status == PaymentState.PAID:
                    await self._confirm(intent)
                else:
                    await self._close(BookingStatus.EXPIRED, "the hold ended before payment")
            elif self._mailbox.cancel is not None:
                intent = await self._cancel_intent()
                if intent is not None and intent.status == PaymentState.PAID:
                    await self._confirm(intent)  # then refunded below, as any paid cancellation
                else:
                    await self._close(BookingStatus.CANCELLED, self._mailbox.cancel.reason)
            else:
                await self._on_payment_event(self._mailbox.next_event())

    async def _on_payment_event(self, event: PaymentEvent) -> None:
        if event.type == PaymentEventType.FAILED:
            failure = event.failure_message or "the payment was declined"
            self._state.revise(payment_failures=[*self._state.booking.payment_failures, failure])
            return
        # Any other event: Stripe's current state decides, not the event.
        intent = await self._read_intent_while_pending()
        if intent is None:
            return  # Stripe did not answer before the hold ended: the hold's end decides
        if intent.status == PaymentState.PAID:
            await self._confirm(intent)
        elif intent.status == PaymentState.VOID:
            self._intent_cancelled = True
            await self._close(BookingStatus.CANCELLED, "the payment was cancelled at Stripe")

    async def _confirm(self, intent: PaymentIntentInfo) -> None:
        booking = self._state.booking
        if (intent.amount_received, intent.currency) != (booking.amount_total, booking.currency):
            paid = f"{intent.amount_received} {intent.currency}"
            expected = f"{booking.amount_total} {booking.currency}"
            reason = f"paid {paid}, expected {expected}: refunded"
            await self._refund_unsold(intent, RefundSource.AMOUNT_MISMATCH, reason)
            return
        try:
            confirmation = await self._steps.confirm()
        except FailureError as err:
            refusal = business_failure(err)
            if refusal is None:
                raise
            # The places were lost or the session cancelled while the customer paid.
            reason = f"paid, but {refusal.message}"
            await self._refund_unsold(intent, RefundSource.NOT_CONFIRMABLE, reason)
            return
        await self._sold(booking, confirmation, intent)

    async def _refund_unsold(
        self, intent: PaymentIntentInfo, source: RefundSource, reason: str
    ) -> None:
        """Money paid for a booking that cannot be sold: all of it back, the booking closed."""
        self._state.revise(amount_paid=intent.amount_received)
        refused = await self._refunds.refund_rest(source)
        if refused is None:
            await self._close(BookingStatus.REFUNDED, reason, self._state.booking.amount_refunded)
        else:
            await self._close(BookingStatus.CANCELLED, f"{reason}; {unrefunded_reason(refused)}")

    async def _sold(
        self, booking: BookingView, confirmation: Confirmation, intent: PaymentIntentInfo | None
    ) -> None:
        """Confirmed: the caller and operators see it, then the receipt and the email."""
        self._state.show(
            replace(
                booking,
                status=BookingStatus.CONFIRMED,
                reference=confirmation.reference,
                confirmed_at=confirmation.confirmed_at,
                amount_paid=booking.amount_total,
            )
        )
        await self._state.issue_document(DocumentKind.RECEIPT, intent)
        await self._state.send_email(EmailKind.CONFIRMATION)

    async def _until_session_ends(self) -> None:
        """Remind the customer a day before; refund on cancellation; complete at the end."""
        assert self._reservation is not None
        ends_at = self._reservation.session_ends_at
        remind_at: datetime | None = self._reservation.session_starts_at - timedelta(
            seconds=self._timings.reminder_before_seconds
        )
        while self._state.status == BookingStatus.CONFIRMED:
            reminder_due = remind_at is not None and remind_at > workflow.now()
            deadline = remind_at if reminder_due and remind_at else ends_at
            if not await self._wait_for_message(
                deadline, "reminder" if reminder_due else "session ends"
            ):
                if reminder_due:
                    remind_at = None
                    await self._state.send_email(EmailKind.REMINDER)
                else:
                    booking = self._state.booking
                    await self._state.record(replace(booking, status=BookingStatus.COMPLETED))
            elif self._mailbox.orders:
                # Before a cancel: every queued order was accepted before it (a pending cancel
                # refuses new orders), and its caller was told it is under way.
                await self._carry_out_next_order()
            elif self._mailbox.cancel is not None and self._state.booking.payment_intent_id is None:
                # A free booking: nothing to refund, the places are released.
                await self._close(BookingStatus.CANCELLED, self._mailbox.cancel.reason)
            elif self._mailbox.cancel is not None:
                await self._cancel_by_policy()
            elif self._mailbox.next_event().type == PaymentEventType.REFUNDED:
                await self._read_refunds_at_stripe()
        # Orders that came after the booking's end was decided are refused.
        while self._mailbox.orders:
            queued = self._mailbox.orders.pop(0)
            refusal = BookingNotChangeable(f"the booking is {self._state.status}")
            self._mailbox.answers[queued.update_id] = refusal

    async def _refund_late_payments(self) -> None:
        """No succeeded payment is left without a booking or a refund (invariant I2, "money
        balances": docs/reliability.md).

        Stripe not answering within a step's bound ends this (logged): the safety net refunds
        the succeeded payment of a booking that was never confirmed."""
        try:
            await self._settle_late_payments()
        except FailureError as err:  # reading the intent is a local activity: ApplicationError
            workflow.logger.warning("late payments left: %s", outcome(err).message)

    async def _settle_late_payments(self) -> None:
        if self._intent_unsettled:
            # The places are free already, so now Stripe may take as long as it needs.
            intent = await self._steps.cancel_intent(self._state.payment_intent_id)
            self._intent_cancelled = intent.status == PaymentState.VOID
            await self._refund_if_paid(intent)
        if self._intent_cancelled:
            return  # a cancelled PaymentIntent can never be paid
        until = workflow.now() + timedelta(seconds=self._timings.late_payment_window_seconds)
        while await self._wait_for_message(until, "late-payment window ends"):
            event = self._mailbox.next_event()
            if event.type == PaymentEventType.REFUNDED:
                await self._read_refunds_at_stripe()
            elif event.type == PaymentEventType.SUCCEEDED and not self._state.booking.refund_ids:
                intent = await self._steps.read_intent(self._state.payment_intent_id)
                await self._refund_if_paid(intent)

    async def _refund_if_paid(self, intent: PaymentIntentInfo) -> None:
        """Refund money that arrived after the booking ended, once, and tell the customer."""
        if intent.status != PaymentState.PAID or self._state.booking.refund_ids:
            return
        self._state.revise(amount_paid=intent.amount_received)
        refused = await self._refunds.refund_rest(RefundSource.LATE_PAYMENT)
        if refused is not None:
            reason = f"a late payment: {unrefunded_reason(refused)}"
            await self._state.record(replace(self._state.booking, status_reason=reason))
            return
        reason = "a late payment was refunded"
        await self._state.record(replace(self._state.booking, status_reason=reason))
        refunded = self._state.booking.amount_refunded
        await self._state.send_email(EmailKind.LATE_PAYMENT_REFUNDED, refunded)

    async def _after_the_end(self) -> None:
        """Once the booking's last phase is over: the session's cancellation that came while a
        customer's cancel closed it refunds the rest, and a `charge.refunded` that came
        meanwhile is still read (the webhook hands later ones to the Stripe refunds workflow)."""
        while True:
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or self._session_refund_due
            )
            if self._session_refund_due:
                await self._refund_for_session()
            elif not self._mailbox.events_waiting:
                return
            elif self._mailbox.next_event().type == PaymentEventType.REFUNDED:
                await self._read_refunds_at_stripe()

    @property
    def _session_refund_due(self) -> bool:
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

    async def _refund_for_session(self) -> None:
        """What the customer's cancel kept is refunded too: REFUNDED. Stripe refusing, or not
        answering within the step's bound, leaves the booking as the customer's cancel closed
        it (logged; the session's cancellation is answered with it)."""
        cancel = self._cancel
        try:
            refunded = await self._refund_for_cancel(cancel)
            if refunded and self._state.status != BookingStatus.REFUNDED:
                await self._close(BookingStatus.REFUNDED, cancel.reason, refunded)
        except FailureError as err:
            workflow.logger.warning("the session's refund not made: %s", outcome(err).message)
        finally:
            self._closed_by = cancel  # the session's cancellation is answered now

    # ---- changes: orders, a cancel by policy, places given back ----------------------------
    #
    # Every change is checked, then Stripe's refunds are read back, then it is checked again
    # against what remains at Stripe, then the refund is asked of Stripe, and only then does
    # anything else move: a refund Stripe refuses changes nothing but its sequence number.

    async def _carry_out(self, order: Order) -> BookingView:
        """Queue the order for the main loop (one change at a time) and answer its outcome."""
        info = workflow.current_update_info()
        assert info is not None
        self._mailbox.accept_order(info.id, order)
        await workflow.wait_condition(lambda: info.id in self._mailbox.answers)
        answer = self._mailbox.answers[info.id]
        if isinstance(answer, ApplicationError):
            raise answer
        return answer

    async def _carry_out_next_order(self) -> None:
        queued = self._mailbox.orders.pop(0)
        try:
            await self._carry_out_order(queued)
        except FailureError as err:
            # A rule said no, Stripe refused the refund, or it did not answer within the step's
            # bound: that order fails (nothing moved), not the booking.
            self._mailbox.answers[queued.update_id] = outcome(err)
            return
        self._mailbox.answers[queued.update_id] = self._state.booking

    async def _carry_out_order(self, queued: Queued) -> None:
        # Checked again: an earlier order or a refund at Stripe may have changed the booking.
        await self._catch_up_with_stripe()
        order = queued.order
        if isinstance(order, RefundOrder):
            rules.check_refund(order.amount, order.reason, self._refunds.remaining)
            refund = await self._refunds.refund_part(order.amount, order.reason, RefundSource.ADMIN)
            await self._after_partial_refund([refund])
        else:
            labels = self._places_to_cancel(order, queued.accepted_at)
            await self._cancel_places(order, labels, queued.accepted_at)

    async def _cancel_by_policy(self) -> None:
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

    async def _close_cancelled(self, refunded: int, refused: str | None) -> bool:
        """Close as the cancel leaves it; False (nothing recorded) if a customer's close came
        after the session's cancellation."""
        self._closed_by = self._cancel
        fully = refunded > 0 and self._refunds.remaining == 0
        status = BookingStatus.REFUNDED if fully else BookingStatus.CANCELLED
        reason = self._cancel.reason + (f"; {refused}" if refused else "")
        # A free booking's email says nothing of refunds, nor one whose refund Stripe refused
        # (no "nothing is due"); a paid one says what came back.
        told = self._state.booking.amount_paid and not (refused and not refunded)
        by_policy = status == BookingStatus.CANCELLED and not self._cancel.session_cancelled
        return await self._close(
            status, reason, refunded if told else None, unless_session_cancelled=by_policy
        )

    async def _refund_for_cancel(self, cancel: CancelRequest) -> int:
        """Read Stripe's refunds back (nothing remains: the booking closes REFUNDED), then
        refund what `cancel` gives back of what remains; the amount refunded."""
        await self._catch_up_with_stripe()
        if self._refunds.remaining <= 0:
            return 0
        assert self._reservation is not None and self._mailbox.cancel_accepted_at is not None
        percent = rules.policy_percent(
            self._reservation.refund_policy,
            self._reservation.session_starts_at,
            self._mailbox.cancel_accepted_at,
            in_full=cancel.session_cancelled,
        )
        amount = refund_amount(self._refunds.remaining, percent)
        if not amount:
            return 0
        source = (
            RefundSource.SESSION_CANCELLED
            if cancel.session_cancelled
            else RefundSource.CUSTOMER_POLICY
        )
        return (await self._refunds.refund_part(amount, cancel.reason, source)).amount

    async def _cancel_failed(self, refusal: ApplicationError, refunded: int) -> str | None:
        """The refusal for the CANCELLED booking's status reason, or None when it does not
        close so: a refund made at Stripe meanwhile left nothing (closed REFUNDED), or Stripe
        did not answer before anything was refunded (the cancel is refused with a 503 and the
        booking stays CONFIRMED: the caller may cancel again)."""
        if refusal.type == RefundExceedsRemaining.__name__:
            with contextlib.suppress(FailureError):  # not read: closed with the refusal
                await self._catch_up_with_stripe()
            if self._state.status != BookingStatus.CONFIRMED:
                return None
        elif refusal.type == PaymentProviderUnavailable.__name__ and not refunded:
            workflow.logger.warning("cancel refused: %s", refusal.message)
            self._mailbox.give_up_cancel(refusal)
            return None
        workflow.logger.warning("refund refused: %s", refusal.message)
        return f"the refund was refused: {refusal.message}"

    def _places_to_cancel(self, order: PlacesCancellation, accepted_at: datetime) -> list[str]:
        """The labels the order names, or the business error that refuses it."""
        assert self._reservation is not None
        held_labels = self._state.booking.seat_labels
        labels = order.labels_of(held_labels)
        rules.check_places_to_cancel(
            labels,
            held_labels,
            reason=order.reason,
            seat_labels=order.seat_labels,
            count=order.count,
            starts_at=self._reservation.session_starts_at,
            accepted_at=accepted_at,
        )
        return labels

    async def _cancel_places(
        self, order: PlacesCancellation, labels: list[str], accepted_at: datetime
    ) -> None:
        """Refund at Stripe first (refused: nothing has moved), then release the places at the
        price kept, then record the refund."""
        assert self._reservation is not None
        reservation, booking = self._reservation, self._state.booking
        keep = [label for label in booking.seat_labels if label not in labels]
        price = kept(booking.amount_paid, reservation.unit_amount, reservation.seat_labels, keep)
        percent = rules.policy_percent(
            reservation.refund_policy, reservation.session_starts_at, accepted_at
        )
        amount = rules.places_refund(
            booking.amount_total - price.total, percent, self._refunds.remaining
        )
        reason = f"{order.reason}: {', '.join(labels)}"
        refund = await self._refunds.ask(amount, RefundSource.PLACES) if amount > 0 else None
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
        if refund is not None:
            info, sequence = refund
            noted = await self._refunds.note(info, reason, RefundSource.PLACES, sequence)
            await self._after_partial_refund([noted])

    # ---- refunds read back from Stripe -----------------------------------------------------

    async def _read_refunds_at_stripe(self) -> None:
        """After a `charge.refunded`: note the refunds made at Stripe, and a booking that was
        confirmed follows them (`_after_partial_refund`). Stripe not answering within the
        step's bound skips this (logged): the next event, or the next refund, reads them."""
        try:
            refunds = await self._refunds.read_back()
        except FailureError as err:
            workflow.logger.warning("refunds not read: %s", outcome(err).message)
            return
        if self._state.booking.reference:
            await self._after_partial_refund(refunds)

    async def _catch_up_with_stripe(self) -> None:
        """Note the refunds made at Stripe the booking does not know yet, then tell the
        customer of them (or close the booking REFUNDED once nothing remains)."""
        await self._after_partial_refund(await self._refunds.read_back())

    async def _after_partial_refund(self, refunds: list[Refund]) -> None:
        """REFUNDED (places released) once nothing remains paid, else tell the customer."""
        if not refunds:
            return
        if self._refunds.remaining <= 0:
            refunded = self._state.booking.amount_refunded
            await self._close(BookingStatus.REFUNDED, refunds[-1].reason, refunded)
            return
        for refund in refunds:
            await self._state.send_email(EmailKind.PARTLY_REFUNDED, refund.amount, refund.sequence)

    # ---- transitions ----------------------------------------------------------------------

    async def _wait_for_message(self, deadline: datetime, timer: str) -> bool:
        return await self._mailbox.wait(
            deadline, timer, cancel_counts=self._state.status in OPEN_STATUSES
        )

    async def _extend_hold(self) -> None:
        extended = workflow.now() + timedelta(seconds=self._timings.hold_extension_seconds)
        booking = self._state.booking
        reason = "payment is processing"
        await self._state.record(replace(booking, hold_expires_at=extended, status_reason=reason))

    async def _close(
        self,
        status: BookingStatus,
        reason: str,
        refunded: int | None = None,
        *,
        unless_session_cancelled: bool = False,
    ) -> bool:
        """Release the places, record the end, and tell the customer (with the last refund's
        credit note when something was `refunded`: each refund had its own already). False,
        with nothing recorded, if `unless_session_cancelled` and the session was cancelled."""
        await self._steps.release()
        view = replace(self._state.booking, status=status, status_reason=reason)
        recorded = await self._steps.record(view, unless_session_cancelled=unless_session_cancelled)
        if recorded == RecordOutcome.SESSION_CANCELLED:
            return False
        self._state.show(view)
        refunds = self._state.booking.refunds
        last = refunds[-1].sequence if refunded and refunds else None
        await self._state.send_email(closing_email(status, self._mailbox.cancel), refunded, last)
        return True

    async def _cancel_intent(self) -> PaymentIntentInfo | None:
        """None when Stripe did not answer within the grace: the hold ends all the same."""
        within = self._stripe_grace(timedelta(0))
        intent_id = self._state.payment_intent_id
        try:
            intent = await self._steps.cancel_intent(intent_id, within)
        except ActivityError as err:
            workflow.logger.warning("could not cancel %s: %s", intent_id, err)
            self._intent_unsettled = True
            return None
        self._intent_cancelled = intent.status == PaymentState.VOID
        return intent

    async def _read_intent_while_pending(self) -> PaymentIntentInfo | None:
        """The intent, or None when Stripe did not answer before the hold ends."""
        within = self._stripe_grace(self._state.booking.hold_expires_at - workflow.now())
        intent_id = self._state.payment_intent_id
        try:
            return await self._steps.read_intent(intent_id, within)
        except FailureError as err:  # local activities raise ApplicationError, not ActivityError
            workflow.logger.warning("could not read %s: %s", intent_id, err)
            return None

    def _stripe_grace(self, at_least: timedelta) -> timedelta:
        """How long a pending booking waits on Stripe before the hold's end decides."""
        return max(at_least, timedelta(seconds=self._timings.payment_grace_seconds))

    def _reject(self, err: ActivityError | ApplicationError) -> bool:
        self._rejection = business_failure(err) or ServiceUnavailable(
            f"could not set the booking up: {err.cause if isinstance(err, ActivityError) else err}"
        )
        visibility.publish_rejected()
        return False

    @property
    def _cancel(self) -> CancelRequest:
        assert self._mailbox.cancel is not None
        return self._mailbox.cancel
