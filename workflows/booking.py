"""One booking, from held places to paid, expired, cancelled, refunded or completed.

The state machine of BRIEF section 2. Activity calls are in `steps`, their options and the
patch names in `options` (read its header before editing this file), the waiting messages in
`mailbox`, what operators see in `visibility`.

Long on purpose: it is one class whose state every handler and phase shares, and its phases
read in the order a booking lives them (setup, payment, after confirmation, then the changes a
confirmed booking takes: refunds by policy, partial refunds, places cancelled); splitting it
would scatter the machine. Rules that need no state (prices, policies) live in `core`.
"""

import contextlib
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.errors import (
        BookingError,
        BookingNotCancellable,
        BookingNotChangeable,
        IdempotencyKeyReused,
        InvalidRequest,
        ServiceUnavailable,
    )
    from core.refund_policy import refund_amount, refund_percent
    from models.booking import (
        BookingView,
        BookingWorkflowInput,
        CancelRequest,
        Confirmation,
        PlacesCancellation,
        Refund,
        RefundOrder,
        Reservation,
        closing_email,
    )
    from models.enums import OPEN_STATUSES, BookingStatus, DocumentKind, EmailKind
    from models.payments import (
        PaymentEvent,
        PaymentEventType,
        PaymentIntentInfo,
        PaymentState,
        RefundInfo,
    )
    from workflows import visibility
    from workflows.mailbox import Mailbox, Order
    from workflows.options import HOLD_ANSWER_WAIT
    from workflows.steps import BookingSteps


@workflow.defn
class BookingWorkflow:
    @workflow.init
    def __init__(self, input: BookingWorkflowInput) -> None:
        self._request = input.request
        self._timings = input.timings
        self._steps = BookingSteps(input.request.booking_id)
        self._mailbox = Mailbox()
        self._reservation: Reservation | None = None
        self._view: BookingView | None = None
        self._rejection: ApplicationError | None = None
        self._intent_cancelled = False
        # Stripe did not answer a cancellation in time: the intent may still be paid later.
        self._intent_unsettled = False
        self._hold_asked = False

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
        if self._status == BookingStatus.CONFIRMED:
            await self._until_session_ends()
        else:
            await self._refund_late_payments()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._booking

    # ---- messages -------------------------------------------------------------------------

    @workflow.update
    async def hold(self, request_fingerprint: str) -> BookingView:
        """Answer the caller who started the booking once places and payment are set up."""
        self._hold_asked = True
        await workflow.wait_condition(lambda: self._view is not None or bool(self._rejection))
        if self._rejection is not None:
            raise self._rejection
        assert self._view is not None
        return self._view

    @hold.validator
    def _same_request(self, request_fingerprint: str) -> None:
        IdempotencyKeyReused.unless_same(self._request.request_fingerprint, request_fingerprint)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> BookingView:
        """The booking once it has ended; asking again answers the same outcome."""
        if self._mailbox.cancel is None:
            self._mailbox.cancel = request
        await workflow.wait_condition(
            lambda: self._rejection is not None or self._status not in (None, *OPEN_STATUSES)
        )
        if self._rejection is not None:
            raise BookingNotCancellable("the booking was never set up")
        return self._booking

    @cancel.validator
    def _cancellable(self, request: CancelRequest) -> None:
        _check_text(request.reason)
        if self._mailbox.cancel is not None:
            return  # asked before: answered with the same outcome
        view = self._view
        if self._rejection is not None or (view and view.status not in OPEN_STATUSES):
            status = view.status if view else BookingStatus.REJECTED
            raise BookingNotCancellable.in_status(status)
        # A booking still being set up (view None) is cancelled as soon as it is.
        if view and view.status == BookingStatus.CONFIRMED and self._session_started():
            raise BookingNotCancellable("the session has started")

    @workflow.update
    async def refund(self, order: RefundOrder) -> BookingView:
        """An admin's refund of part or all of what remains paid; REFUNDED once nothing does.
        The same update id answers the same outcome."""
        return await self._carry_out(order)

    @refund.validator
    def _refundable(self, order: RefundOrder) -> None:
        self._must_be_confirmed()
        self._check_refund(order, self._refundable_after_orders())

    @workflow.update
    async def cancel_places(self, order: PlacesCancellation) -> BookingView:
        """Give some places back: the rest re-priced, the difference refunded by the policy."""
        return await self._carry_out(order)

    @cancel_places.validator
    def _places_cancellable(self, order: PlacesCancellation) -> None:
        self._places_to_cancel(order)

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        self._mailbox.post(event)

    @workflow.query
    def view(self) -> BookingView | None:
        return self._view

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
        self._show(self._held(reservation, intent))  # recorded by `open_payment`
        return True

    async def _sell_free(self, reservation: Reservation) -> bool:
        """Nothing to pay: no PaymentIntent, the places sold at once, a receipt for 0."""
        try:
            confirmation = await self._steps.confirm()
        except (ActivityError, ApplicationError) as err:  # the session was cancelled meanwhile
            await self._steps.discard()
            return self._reject(err)
        await self._sold(self._held(reservation, None), confirmation, None)
        return True

    def _held(self, reservation: Reservation, intent: PaymentIntentInfo | None) -> BookingView:
        """The booking holding its places, waiting for the payment of `intent` if any."""
        return BookingView(
            id=self._request.booking_id,
            status=BookingStatus.PENDING_PAYMENT,
            session_id=reservation.session_id,
            seat_labels=reservation.seat_labels,
            amount_subtotal=reservation.amount_subtotal,
            discount=reservation.discount,
            amount_total=reservation.amount_total,
            currency=reservation.currency,
            hold_expires_at=reservation.hold_expires_at,
            payment_intent_id=intent.id if intent else None,
            client_secret=intent.client_secret if intent else None,
        )

    async def _await_payment(self) -> None:
        """Race payment events and cancellation against the hold timer."""
        extensions = 0
        while self._status == BookingStatus.PENDING_PAYMENT:
            if not await self._wait_for_message(self._booking.hold_expires_at, "hold expires"):
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
            booking = self._booking
            self._view = replace(booking, payment_failures=[*booking.payment_failures, failure])
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
        booking = self._booking
        if (intent.amount_received, intent.currency) != (booking.amount_total, booking.currency):
            paid = f"{intent.amount_received} {intent.currency}"
            refunded = await self._refund("amount-mismatch")
            await self._close(
                BookingStatus.REFUNDED,
                f"paid {paid}, expected {booking.amount_total} {booking.currency}: refunded",
                refunded,
            )
            return
        try:
            confirmation = await self._steps.confirm()
        except FailureError as err:
            refusal = _business_failure(err)
            if refusal is None:
                raise
            # The places were lost or the session cancelled while the customer paid.
            refunded = await self._refund("not-confirmable")
            await self._close(BookingStatus.REFUNDED, f"paid, but {refusal.message}", refunded)
            return
        await self._sold(booking, confirmation, intent)

    async def _sold(
        self, booking: BookingView, confirmation: Confirmation, intent: PaymentIntentInfo | None
    ) -> None:
        """Confirmed: the caller and operators see it, then the receipt and the email."""
        self._view = replace(
            booking,
            status=BookingStatus.CONFIRMED,
            reference=confirmation.reference,
            confirmed_at=confirmation.confirmed_at,
            amount_paid=booking.amount_total,
        )
        visibility.publish(self._view)
        await self._issue_document(DocumentKind.RECEIPT, intent)
        await self._send_email(EmailKind.CONFIRMATION)

    async def _until_session_ends(self) -> None:
        """Remind the customer a day before; refund on cancellation; complete at the end."""
        assert self._reservation is not None
        ends_at = self._reservation.session_ends_at
        remind_at: datetime | None = self._reservation.session_starts_at - timedelta(
            seconds=self._timings.reminder_before_seconds
        )
        while self._status == BookingStatus.CONFIRMED:
            reminder_due = remind_at is not None and remind_at > workflow.now()
            deadline = remind_at if reminder_due and remind_at else ends_at
            if not await self._wait_for_message(
                deadline, "reminder" if reminder_due else "session ends"
            ):
                if reminder_due:
                    remind_at = None
                    await self._send_email(EmailKind.REMINDER)
                else:
                    await self._record(replace(self._booking, status=BookingStatus.COMPLETED))
            elif self._mailbox.cancel is not None and self._booking.payment_intent_id is None:
                # A free booking: nothing to refund, the places are released.
                await self._close(BookingStatus.CANCELLED, self._mailbox.cancel.reason)
            elif self._mailbox.cancel is not None:
                await self._cancel_by_policy(self._mailbox.cancel)
            elif self._mailbox.orders:
                await self._carry_out_next_order()
            elif self._mailbox.next_event().type == PaymentEventType.REFUNDED:
                await self._read_back_refunds()
        # Orders that came after the booking's end was decided are refused.
        while self._mailbox.orders:
            order_id, _ = self._mailbox.orders.pop(0)
            self._mailbox.answers[order_id] = BookingNotChangeable(f"the booking is {self._status}")

    async def _refund_late_payments(self) -> None:
        """No succeeded payment is left without a booking or a refund (brief, invariant I2)."""
        if self._intent_unsettled:
            # The places are free already, so now Stripe may take as long as it needs.
            intent = await self._steps.cancel_intent(self._payment_intent_id)
            self._intent_cancelled = intent.status == PaymentState.VOID
            await self._refund_if_paid(intent)
        if self._intent_cancelled:
            return  # a cancelled PaymentIntent can never be paid
        until = workflow.now() + timedelta(seconds=self._timings.late_payment_window_seconds)
        while await self._wait_for_message(until, "late-payment window ends"):
            event = self._mailbox.next_event()
            if event.type == PaymentEventType.SUCCEEDED and not self._booking.refund_ids:
                await self._refund_if_paid(await self._steps.read_intent(self._payment_intent_id))

    async def _refund_if_paid(self, intent: PaymentIntentInfo) -> None:
        """Refund money that arrived after the booking ended, once, and tell the customer."""
        if intent.status != PaymentState.PAID or self._booking.refund_ids:
            return
        refunded = await self._refund("late-payment")
        await self._record(replace(self._booking, status_reason="a late payment was refunded"))
        await self._send_email(EmailKind.LATE_PAYMENT_REFUNDED, refunded)

    # ---- refunds by policy, partial refunds, places cancelled --------------------------------

    async def _carry_out(self, order: Order) -> BookingView:
        """Queue the order for the main loop (one change at a time) and answer its outcome."""
        info = workflow.current_update_info()
        assert info is not None
        self._mailbox.orders.append((info.id, order))
        await workflow.wait_condition(lambda: info.id in self._mailbox.answers)
        answer = self._mailbox.answers[info.id]
        if isinstance(answer, ApplicationError):
            raise answer
        return answer

    async def _carry_out_next_order(self) -> None:
        order_id, order = self._mailbox.orders.pop(0)
        try:
            # Checked again: an earlier order or a refund at Stripe may have changed the booking.
            if isinstance(order, RefundOrder):
                self._check_refund(order, self._refundable_amount)
                await self._refund_order(order)
            else:
                await self._cancel_places(order, self._places_to_cancel(order))
        except (BookingError, ActivityError) as err:
            # A rule said no, or Stripe refused the refund for good: that order fails, not the
            # booking.
            refusal = err if isinstance(err, BookingError) else _business_failure(err)
            if refusal is None:
                raise
            self._mailbox.answers[order_id] = refusal
            return
        self._mailbox.answers[order_id] = self._booking

    async def _cancel_by_policy(self, cancel: CancelRequest) -> None:
        """The customer's cancel refunds what the policy gives back; an organiser's, in full."""
        percent = 100 if cancel.session_cancelled else self._policy_percent()
        amount = refund_amount(self._refundable_amount, percent)
        if amount:
            await self._refund_part(amount, cancel.reason, "cancel")
        fully = amount > 0 and self._refundable_amount == 0
        status = BookingStatus.REFUNDED if fully else BookingStatus.CANCELLED
        # A free booking's email says nothing of refunds; a paid one says what came back.
        refunded = amount if self._booking.amount_paid else None
        await self._close(status, cancel.reason, refunded, noted=True)

    async def _refund_order(self, order: RefundOrder) -> None:
        refund = await self._refund_part(order.amount, order.reason, "admin")
        await self._after_partial_refund([refund])

    async def _cancel_places(self, order: PlacesCancellation, labels: list[str]) -> None:
        before = self._booking.amount_total
        repriced = await self._steps.release_some(labels)
        self._view = replace(
            self._booking,
            seat_labels=repriced.seat_labels,
            amount_subtotal=repriced.amount_subtotal,
            discount=repriced.discount,
            amount_total=repriced.amount_total,
        )
        workflow.set_current_details(visibility.current_details(self._view))
        amount = min(
            refund_amount(before - repriced.amount_total, self._policy_percent()),
            self._refundable_amount,
        )
        if amount:
            reason = f"{order.reason}: {', '.join(labels)}"
            await self._after_partial_refund([await self._refund_part(amount, reason, "places")])

    async def _read_back_refunds(self) -> None:
        """Stripe said a refund was made: record the ones we do not know, for what they are."""
        known = {refund.stripe_refund_id for refund in self._booking.refunds}
        known.update(self._booking.refund_ids)
        found = [
            info
            for info in await self._steps.list_refunds(self._payment_intent_id)
            if info.id not in known and info.counts
        ]
        refunds = [
            await self._note_refund(info, "refunded at Stripe", ours=False) for info in found
        ]
        await self._after_partial_refund(refunds)

    async def _after_partial_refund(self, refunds: list[Refund]) -> None:
        """REFUNDED (places released) once nothing remains paid, else tell the customer."""
        if not refunds:
            return
        if self._refundable_amount <= 0:
            await self._close(
                BookingStatus.REFUNDED,
                refunds[-1].reason,
                self._booking.amount_refunded,
                noted=True,
            )
            return
        for refund in refunds:
            await self._send_email(EmailKind.PARTLY_REFUNDED, refund.amount, refund.sequence)

    async def _refund_part(self, amount: int, reason: str, step: str) -> Refund:
        """Refund `amount` through Stripe as the booking's next refund, then note it."""
        sequence = len(self._booking.refunds) + 1
        info = await self._steps.refund(self._payment_intent_id, step, amount, sequence)
        return await self._note_refund(info, reason, ours=True)

    async def _note_refund(self, info: RefundInfo, reason: str, *, ours: bool) -> Refund:
        """Record a refund made at Stripe (the database, the view) and issue its credit note.
        `refund_ids` lists the refunds the booking made itself (`ours`)."""
        booking = self._booking
        refund = Refund(len(booking.refunds) + 1, info.amount, reason, info.id, workflow.now())
        await self._steps.record_refund(booking.currency, refund)
        refund_ids = [*booking.refund_ids, info.id] if ours else booking.refund_ids
        self._view = replace(booking, refunds=[*booking.refunds, refund], refund_ids=refund_ids)
        if self._booking.reference:
            await self._issue_document(DocumentKind.CREDIT_NOTE, None, refund)
        return refund

    def _check_refund(self, order: RefundOrder, refundable: int) -> None:
        _check_text(order.reason)
        self._must_be_confirmed()
        if not 0 < order.amount <= refundable:
            raise InvalidRequest(
                f"the amount must be between 1 and {refundable}, what remains paid",
                remaining=refundable,
            )

    def _places_to_cancel(self, order: PlacesCancellation) -> list[str]:
        """The labels the order names, or the business error that refuses it."""
        _check_text(order.reason)
        self._must_be_confirmed()
        if self._session_started():
            raise BookingNotChangeable("the session has started")
        if bool(order.seat_labels) == bool(order.count):
            raise InvalidRequest("give either the seats to cancel or a count of places")
        held = self._booking.seat_labels
        labels = order.labels_of(held)
        unknown = sorted(set(labels) - set(held))
        if unknown:
            raise InvalidRequest(f"seats not in this booking: {', '.join(unknown)}", seats=unknown)
        if len(set(labels)) != len(labels):
            raise InvalidRequest("a seat is listed twice")
        if len(labels) >= len(held):
            raise InvalidRequest("these are all the booking's places: cancel the booking instead")
        return labels

    def _must_be_confirmed(self) -> None:
        if self._status != BookingStatus.CONFIRMED or self._mailbox.cancel is not None:
            status = self._status or BookingStatus.PENDING_PAYMENT
            raise BookingNotChangeable(f"a booking that is {status} cannot be changed")

    def _policy_percent(self) -> int:
        assert self._reservation is not None
        reservation = self._reservation
        return refund_percent(
            reservation.refund_policy, reservation.session_starts_at, workflow.now()
        )

    @property
    def _refundable_amount(self) -> int:
        return self._booking.amount_paid - self._booking.amount_refunded

    def _refundable_after_orders(self) -> int:
        """What remains paid once the refunds already queued are made."""
        queued = sum(o.amount for _, o in self._mailbox.orders if isinstance(o, RefundOrder))
        return self._refundable_amount - queued

    # ---- transitions ----------------------------------------------------------------------

    async def _wait_for_message(self, deadline: datetime, timer: str) -> bool:
        return await self._mailbox.wait(
            deadline, timer, cancel_counts=self._status in OPEN_STATUSES
        )

    async def _extend_hold(self) -> None:
        extended = workflow.now() + timedelta(seconds=self._timings.hold_extension_seconds)
        await self._record(
            replace(self._booking, hold_expires_at=extended, status_reason="payment is processing")
        )

    async def _close(
        self, status: BookingStatus, reason: str, refunded: int | None = None, noted: bool = False
    ) -> None:
        """Release the places, record the end, and tell the customer.

        `noted`: each refund had its own credit note already (partial refunds); the email
        carries the last one.
        """
        await self._steps.release()
        if refunded is not None and not noted and self._booking.reference:
            # Before the new status shows: whoever sees REFUNDED can fetch the credit note.
            await self._issue_document(DocumentKind.CREDIT_NOTE, None)
        await self._record(replace(self._booking, status=status, status_reason=reason))
        refunds = self._booking.refunds
        last = refunds[-1].sequence if noted and refunded and refunds else None
        await self._send_email(closing_email(status, self._mailbox.cancel), refunded, last)

    async def _issue_document(
        self, kind: DocumentKind, intent: PaymentIntentInfo | None, refund: Refund | None = None
    ) -> None:
        document = await self._steps.issue_document(kind, intent, refund)
        if document is not None:
            self._view = replace(
                self._booking, documents=[*self._booking.documents, document.number]
            )

    async def _send_email(
        self, kind: EmailKind, refund_amount: int | None = None, refund_sequence: int | None = None
    ) -> None:
        if not await self._steps.send_email(kind, refund_amount, refund_sequence):
            booking = self._booking
            self._view = replace(booking, emails_refused=[*booking.emails_refused, kind])

    async def _refund(self, reason: str) -> int:
        """Refund in full through Stripe; returns the amount refunded."""
        refund = await self._steps.refund(self._payment_intent_id, reason)
        await self._note_refund(refund, reason, ours=True)
        return refund.amount

    async def _cancel_intent(self) -> PaymentIntentInfo | None:
        """None when Stripe did not answer within the grace: the hold ends all the same."""
        within = self._stripe_grace(timedelta(0))
        try:
            intent = await self._steps.cancel_intent(self._payment_intent_id, within)
        except ActivityError as err:
            workflow.logger.warning("could not cancel %s: %s", self._payment_intent_id, err)
            self._intent_unsettled = True
            return None
        self._intent_cancelled = intent.status == PaymentState.VOID
        return intent

    async def _read_intent_while_pending(self) -> PaymentIntentInfo | None:
        """The intent, or None when Stripe did not answer before the hold ends."""
        within = self._stripe_grace(self._booking.hold_expires_at - workflow.now())
        try:
            return await self._steps.read_intent(self._payment_intent_id, within)
        except FailureError as err:  # local activities raise ApplicationError, not ActivityError
            workflow.logger.warning("could not read %s: %s", self._payment_intent_id, err)
            return None

    def _stripe_grace(self, at_least: timedelta) -> timedelta:
        """How long a pending booking waits on Stripe before the hold's end decides."""
        return max(at_least, timedelta(seconds=self._timings.payment_grace_seconds))

    async def _record(self, view: BookingView) -> None:
        """Mirror to the database first, so whoever reads the new view can find it there too."""
        await self._steps.record(view)
        self._show(view)

    def _show(self, view: BookingView) -> None:
        """The view callers and operators see, once the database holds it."""
        self._view = view
        visibility.publish(view)

    def _reject(self, err: ActivityError | ApplicationError) -> bool:
        self._rejection = _business_failure(err) or ServiceUnavailable(
            f"could not set the booking up: {err.cause if isinstance(err, ActivityError) else err}"
        )
        visibility.publish_rejected()
        return False

    def _session_started(self) -> bool:
        assert self._reservation is not None
        return workflow.now() >= self._reservation.session_starts_at

    @property
    def _booking(self) -> BookingView:
        assert self._view is not None, "the booking has no places yet"
        return self._view

    @property
    def _status(self) -> BookingStatus | None:
        return self._view.status if self._view else None

    @property
    def _payment_intent_id(self) -> str:
        assert self._booking.payment_intent_id is not None
        return self._booking.payment_intent_id


def _check_text(reason: str) -> None:
    if "\x00" in reason:
        raise InvalidRequest("the reason must not contain the NUL character")


def _business_failure(err: FailureError) -> ApplicationError | None:
    """The business rule that said no (non-retryable), or None for trouble worth retrying."""
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause if isinstance(cause, ApplicationError) and cause.non_retryable else None
