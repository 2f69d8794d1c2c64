"""One booking's workflow: the booking's state machine, and nothing else.

```mermaid
stateDiagram-v2
    [*] --> PENDING_PAYMENT: hold (update-with-start) - places held, PaymentIntent open
    [*] --> CONFIRMED: hold - nothing to pay, the places sold at once
    [*] --> REJECTED: hold - the setup refused (the workflow fails)
    [*] --> CONFIRMED: split off by another booking's partial move (its places and money)
    PENDING_PAYMENT --> CONFIRMED: payment_event, Stripe says paid (or the hold timer finds it paid)
    PENDING_PAYMENT --> PENDING_PAYMENT: timer hold expires - payment processing, hold extended
    PENDING_PAYMENT --> EXPIRED: timer hold expires - not paid
    PENDING_PAYMENT --> CANCELLED: cancel, or payment_event - the intent cancelled at Stripe
    PENDING_PAYMENT --> REFUNDED: payment_event - paid, but unsellable or the wrong amount
    PENDING_PAYMENT --> CANCELLED: the same, the refund not made (the safety net makes it)
    CONFIRMED --> CONFIRMED: timer reminder, refund, cancel_places or move, payment_event refunded
    CONFIRMED --> CONFIRMED: session_changed - the reminder and the end timed anew
    CONFIRMED --> COMPLETED: timer session ends - attendance recorded, certificates asked for
    CONFIRMED --> REFUNDED: cancel - all back, or refunds until nothing remains paid
    CONFIRMED --> CANCELLED: cancel - the policy kept some, Stripe refused, or nothing was paid
    CANCELLED --> REFUNDED: cancel by the session after a customer's cancel closed it
    EXPIRED --> [*]: timer late-payment window ends (a late payment is refunded first)
    CANCELLED --> [*]: timer late-payment window ends
    REFUNDED --> [*]
    COMPLETED --> [*]
```

Messages: the `hold` update answers the caller who started the booking; `cancel`, `refund`
(an admin's), `cancel_places` and `move` are updates, validated before they are accepted;
`payment_event` is the webhook's signal; `session_changed` (an update) moves the session's
times. Stripe not answering a cancel's refund within the
step's bound refuses the cancel (503) and the booking stays CONFIRMED.

Money: what was paid less the refunds is what remains at Stripe; Stripe's refunds are read back
before every refund (`refund_book`). A change (an admin's refund, places given back) is checked,
refunded at Stripe, then carried out: a refusal fails that change alone and moves nothing. The
session's cancellation outranks a customer's cancel (refunded in full); a policy's percent is
the one in force when the change was accepted.

Where the rest lives: the checks in `core.booking_rules`; the activity calls in `steps` (their
options and the patch rule in `options`: read its header before editing this file); the view,
the places and their writes in `booking_state`; the refunds in `refund_book`; a CONFIRMED
booking's orders and cancel in `booking_changes` (a move in `booking_move`); the
PaymentIntent's bounded waits in `payment_intent`; the waiting messages in `mailbox`; what
operators see in `visibility`.

Orders wait in the mailbox's queue and the main loop carries them out, rather than each update
handler under an `asyncio.Lock` (samples-python `safe_message_handlers`): the loop is what puts
an order accepted before a cancel ahead of it and between the timers, and carrying orders out
in the handlers would reorder the commands every committed history holds.

Over 350 lines with this docstring: under it, the messages and the phases in the order a
booking lives them, each phase handing its work to the modules above.
"""

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from core import booking_rules as rules
    from core.enums import (
        OPEN_STATUSES,
        BookingStatus,
        DocumentKind,
        EmailKind,
        RefundSource,
    )
    from core.errors import (
        BookingNotCancellable,
        IdempotencyKeyReused,
        ServiceUnavailable,
        business_failure,
    )
    from messages.booking import (
        CANCELS_GIVEN_UP_QUERY,
        AttendeeCheckedIn,
        BookingView,
        BookingWorkflowInput,
        CancelRequest,
        Confirmation,
        MoveOrder,
        PlacesCancellation,
        RefundOrder,
        Reservation,
        SplitOff,
    )
    from messages.payments import PaymentEvent, PaymentEventType, PaymentIntentInfo, PaymentState
    from messages.session_changes import SESSION_CHANGED_UPDATE, SessionMove
    from workflows import visibility
    from workflows.attendance import record_attendance
    from workflows.booking_changes import BookingChanges
    from workflows.booking_state import BookingState, held
    from workflows.mailbox import Mailbox
    from workflows.options import HOLD_ANSWER_WAIT
    from workflows.payment_intent import PaymentIntent
    from workflows.refund_book import RefundBook, unrefunded_reason
    from workflows.steps import BookingSteps, outcome


@workflow.defn
class BookingWorkflow:
    @workflow.init
    def __init__(self, input: BookingWorkflowInput) -> None:
        self._request = input.request
        self._timings = input.timings
        self._steps = BookingSteps(input.request.booking_id)
        self._mailbox = Mailbox()
        self._state = BookingState(self._steps, self._mailbox)
        self._refunds = RefundBook(self._steps, self._state)
        grace = timedelta(seconds=self._timings.payment_grace_seconds)
        self._changes = BookingChanges(
            self._steps, self._state, self._refunds, grace, self._timings
        )
        self._intent = PaymentIntent(self._steps, self._state, grace)
        self._rejection: ApplicationError | None = None
        self._hold_asked = False
        # Attendees let in at the door, by session and place: the first check-in of each.
        self._check_ins: dict[tuple[str | None, int], AttendeeCheckedIn] = {}

    @workflow.run
    async def run(self, input: BookingWorkflowInput) -> BookingView:
        if input.split is not None:
            await self._split_off(input.split)
        elif not await self._hold_places():
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
        already: it is answered once the rest is refunded (`BookingChanges.refund_for_session`)."""
        given_up = self._mailbox.accept_cancel(request)
        await workflow.wait_condition(
            lambda: (
                self._rejection is not None
                or (
                    self._state.status not in (None, *OPEN_STATUSES)
                    and not self._changes.session_refund_due
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
        places = self._state.reservation
        starts_at = places.session_starts_at if places else None
        rules.check_cancellable(status, starts_at, workflow.now())

    @workflow.update
    async def refund(self, order: RefundOrder) -> BookingView:
        """An admin's refund of part or all of what remains paid; REFUNDED once nothing does.
        The same update id answers the same outcome."""
        return await self._changes.carry_out(order)

    @refund.validator
    def _refundable(self, order: RefundOrder) -> None:
        self._changes.check_refund(order)

    @workflow.update
    async def cancel_places(self, order: PlacesCancellation) -> BookingView:
        """Give some places back: each refunds, by the policy in force when the order was
        accepted, its share of what was paid; the places kept keep theirs (`core.pricing.kept`)."""
        return await self._changes.carry_out(order)

    @cancel_places.validator
    def _places_cancellable(self, order: PlacesCancellation) -> None:
        self._changes.check_places(order)

    @workflow.update
    async def move(self, order: MoveOrder) -> BookingView:
        """Move every place to another session of the organisation: its places held first, the
        difference refunded by the policy in force when the order was accepted (a cheaper one),
        then the source's places released (`BookingMove`)."""
        return await self._changes.carry_out(order)

    @move.validator
    def _movable(self, order: MoveOrder) -> None:
        self._changes.check_move(order)

    @workflow.update(name=SESSION_CHANGED_UPDATE)
    async def session_changed(self, move: SessionMove) -> BookingView | None:
        """The session's time changed (`workflows.session_change`): the reminder and the end
        are timed anew from `move`, and a cancel within its accept-or-refund window is refunded
        in full. Sent with the change's update id: told twice, moved once."""
        await workflow.wait_condition(
            lambda: self._state.reservation is not None or self._rejection is not None
        )
        if self._rejection is None:
            self._state.move_session(move)
        return self._state.view

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        self._mailbox.post(event)

    @workflow.signal
    def checked_in(self, note: AttendeeCheckedIn) -> None:
        """A check-in at the door, in the history; repeats of a place at a session keep its
        first."""
        self._check_ins.setdefault((note.session_id, note.attendee_index), note)

    @workflow.query
    def check_ins(self) -> list[AttendeeCheckedIn]:
        """By place; a place of a booking that moved, its earlier sessions' first."""
        return sorted(
            self._check_ins.values(), key=lambda note: (note.attendee_index, note.checked_in_at)
        )

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
        self._state.reservation = reservation
        if reservation.amount_total == 0:
            return await self._sell_free(reservation)
        try:
            intent = await self._steps.open_payment(reservation, request.customer_email)
        except (ActivityError, ApplicationError) as err:
            await self._steps.discard()
            return self._reject(err)
        self._state.show(held(request.booking_id, reservation, intent))  # recorded by the step
        return True

    async def _split_off(self, split: SplitOff) -> None:
        """A booking split off by a partial move (`BookingMove`): CONFIRMED in the session its
        places moved to, paid by the claims handed over; the customer gets the move's email
        (its event, its tickets). The changes of that session its times reflect are applied
        already: it is told of the next."""
        self._state.reservation = split.reservation
        self._state.session_change = split.reservation.session_change
        self._refunds.claims = [(claim.payment_intent_id, claim.amount) for claim in split.claims]
        self._state.show(split.view)
        if split.difference is not None:  # its own receipt: move 0, the split's
            await self._state.issue_document(DocumentKind.RECEIPT, split.difference, move_number=0)
        await self._state.send_email(EmailKind.MOVED, split.refunded, None, split.moved_from)

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
                intent = await self._intent.cancel_while_pending()
                if intent is None:
                    await self._state.close(
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
                    await self._state.close(BookingStatus.EXPIRED, "the hold ended before payment")
            elif self._mailbox.cancel is not None:
                intent = await self._intent.cancel_while_pending()
                if intent is not None and intent.status == PaymentState.PAID:
                    await self._confirm(intent)  # then refunded below, as any paid cancellation
                else:
                    await self._state.close(BookingStatus.CANCELLED, self._mailbox.cancel.reason)
            else:
                await self._on_payment_event(self._mailbox.next_event())

    async def _on_payment_event(self, event: PaymentEvent) -> None:
        if event.type == PaymentEventType.FAILED:
            failure = event.failure_message or "the payment was declined"
            self._state.revise(payment_failures=[*self._state.booking.payment_failures, failure])
            return
        # Any other event: Stripe's current state decides, not the event.
        intent = await self._intent.read_while_pending()
        if intent is None:
            return  # Stripe did not answer before the hold ended: the hold's end decides
        if intent.status == PaymentState.PAID:
            await self._confirm(intent)
        elif intent.status == PaymentState.VOID:
            self._intent.cancelled = True
            await self._state.close(BookingStatus.CANCELLED, "the payment was cancelled at Stripe")

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
            await self._state.close(
                BookingStatus.REFUNDED, reason, self._state.booking.amount_refunded
            )
        else:
            await self._state.close(
                BookingStatus.CANCELLED, f"{reason}; {unrefunded_reason(refused)}"
            )

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
        """Remind the customer a day before; refund on cancellation; complete at the end.

        The session's times are read each turn: a move (an order) changes the session, a change
        of its times (`session_changed`) wakes the wait, and the timers are set again from the
        new times. The reminder is sent once per session the booking is in (again after a move,
        not after a change of time: the change's email tells it). Unchanged, the times never
        move, so the timers are the ones every earlier history holds. A change's
        accept-or-refund window ends by a timer of its own."""
        reminded_at_move: int | None = None  # the move (0: none) whose session was reminded
        while self._state.status == BookingStatus.CONFIRMED:
            places, moved = self._state.places, self._state.moved_since_now()
            remind_at = places.session_starts_at - timedelta(
                seconds=self._timings.reminder_before_seconds
            )
            reminder_due = reminded_at_move != self._state.moves and remind_at > workflow.now()
            deadline = remind_at if reminder_due else places.session_ends_at
            timer = "reminder" if reminder_due else "session ends"
            window, window_due = self._state.refund_in_full_until, False
            if window is not None and workflow.now() < window < deadline:
                deadline, timer, window_due = window, "accept-or-refund window ends", True
            if not await self._wait_for_message(deadline, timer, woken=moved):
                if window_due:
                    pass  # the refund policy applies again (`BookingState.refunds_in_full`)
                elif reminder_due:
                    reminded_at_move = self._state.moves
                    await self._state.send_email(EmailKind.REMINDER)
                else:
                    booking = self._state.booking
                    await self._state.record(replace(booking, status=BookingStatus.COMPLETED))
                    await record_attendance(booking.id)
            elif moved():
                continue  # the session's times changed: its timers are set again
            elif self._mailbox.orders:
                # Before a cancel: every queued order was accepted before it (a pending cancel
                # refuses new orders), and its caller was told it is under way.
                await self._changes.carry_out_next_order()
            elif self._mailbox.cancel is not None and self._refunds.free:
                # A free booking: nothing to refund, the places are released.
                await self._state.close(BookingStatus.CANCELLED, self._mailbox.cancel.reason)
            elif self._mailbox.cancel is not None:
                await self._changes.cancel_by_policy()
            else:
                await self._on_event_while_confirmed(self._mailbox.next_event())
        self._changes.refuse_orders()

    async def _on_event_while_confirmed(self, event: PaymentEvent) -> None:
        """A refund at Stripe is read back; a dearer move's difference paid after the move was
        given up is refunded (`BookingChanges.late_move_payment`); anything else is news of the
        payment the booking holds already."""
        if await self._changes.late_move_payment(event):
            return
        if event.type == PaymentEventType.REFUNDED:
            await self._refunds.read_at_stripe()

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
        if self._intent.unsettled:
            await self._refund_if_paid(await self._intent.settle())
        if self._intent.cancelled:
            return  # a cancelled PaymentIntent can never be paid
        until = workflow.now() + timedelta(seconds=self._timings.late_payment_window_seconds)
        while await self._wait_for_message(until, "late-payment window ends"):
            event = self._mailbox.next_event()
            if event.type == PaymentEventType.REFUNDED:
                await self._refunds.read_at_stripe()
            elif event.type == PaymentEventType.SUCCEEDED and not self._state.booking.refund_ids:
                await self._refund_if_paid(await self._intent.read())

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
                lambda: workflow.all_handlers_finished() or self._changes.session_refund_due
            )
            if self._changes.session_refund_due:
                await self._changes.refund_for_session()
            elif not self._mailbox.events_waiting:
                return
            elif self._mailbox.next_event().type == PaymentEventType.REFUNDED:
                await self._refunds.read_at_stripe()

    # ---- transitions ----------------------------------------------------------------------

    async def _wait_for_message(
        self, deadline: datetime, timer: str, woken: Callable[[], bool] = lambda: False
    ) -> bool:
        return await self._mailbox.wait(
            deadline, timer, cancel_counts=self._state.status in OPEN_STATUSES, woken=woken
        )

    async def _extend_hold(self) -> None:
        extended = workflow.now() + timedelta(seconds=self._timings.hold_extension_seconds)
        booking = self._state.booking
        reason = "payment is processing"
        await self._state.record(replace(booking, hold_expires_at=extended, status_reason=reason))

    def _reject(self, err: ActivityError | ApplicationError) -> bool:
        self._rejection = business_failure(err) or ServiceUnavailable(
            f"could not set the booking up: {err.cause if isinstance(err, ActivityError) else err}"
        )
        visibility.publish_rejected()
        return False
