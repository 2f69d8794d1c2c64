"""One booking, from held places to paid, expired, cancelled, refunded or completed."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.notifications import NotificationActivities
    from activities.payments import PaymentActivities
    from activities.receipts import ReceiptActivities
    from core.errors import BookingNotCancellable, IdempotencyKeyReused, ServiceUnavailable
    from models import search_attributes as sa
    from models.booking import (
        BookingRequest,
        BookingStatus,
        BookingView,
        CreatePaymentIntent,
        EmailRequest,
        IssueDocument,
        PaymentEvent,
        PaymentIntentInfo,
        RefundRequest,
        Reservation,
        Transition,
    )


class StepOptions(TypedDict, total=False):
    """Timeouts and retries of one kind of activity call."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy


DATABASE_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200)),
}
# The caller is waiting for the hold: when the database is down, say so instead of hanging.
RESERVE_STEP: StepOptions = {**DATABASE_STEP, "schedule_to_close_timeout": timedelta(seconds=20)}
STRIPE_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}
# The caller is waiting for the PaymentIntent: give up soon and release the places.
STRIPE_SETUP_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_attempts=3),
}

# Rendering can wait for the database; emails retry through SendGrid's 429s and 5xxs, then
# give up: a failed email never undoes a booking.
DOCUMENT_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
EMAIL_STEP: StepOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=10),
}
# Histories recorded before receipts and emails existed replay without them.
NOTIFICATIONS_PATCH = "receipts-and-emails"
# Creating and reading PaymentIntents became local activities (one trip through the server's
# task queues less per call); older histories ran them as regular activities.
LOCAL_STRIPE_PATCH = "local-stripe-calls"

Arg = TypeVar("Arg")
Result = TypeVar("Result")

HOLD_ANSWER_WAIT = timedelta(seconds=10)

OPEN_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)


@dataclass
class Timings:
    """Durations the workflow reads from its input so tests can shorten them."""

    hold_extension_seconds: int = 60
    max_hold_extensions: int = 5
    late_payment_window_seconds: int = 3 * 24 * 3600
    reminder_before_seconds: int = 24 * 3600


@dataclass
class BookingWorkflowInput:
    request: BookingRequest
    timings: Timings


@dataclass
class CancelRequest:
    reason: str = "cancelled by the customer"
    # The organiser cancelled the whole session: the customer gets that email instead.
    session_cancelled: bool = False


@workflow.defn
class BookingWorkflow:
    @workflow.init
    def __init__(self, input: BookingWorkflowInput) -> None:
        self._request = input.request
        self._timings = input.timings
        self._reservation: Reservation | None = None
        self._view: BookingView | None = None
        self._rejection: ApplicationError | None = None
        self._events: list[PaymentEvent] = []
        self._seen_event_ids: set[str] = set()
        self._cancel: CancelRequest | None = None
        self._intent_cancelled = False
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
        return self._v

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
        if request_fingerprint != self._request.request_fingerprint:
            raise IdempotencyKeyReused("Idempotency-Key was already used with another body")

    @workflow.update
    async def cancel(self, request: CancelRequest) -> BookingView:
        self._cancel = request
        await workflow.wait_condition(lambda: self._status not in OPEN_STATUSES)
        assert self._view is not None
        return self._view

    @cancel.validator
    def _cancellable(self, request: CancelRequest) -> None:
        view = self._view
        if view is None or view.status not in OPEN_STATUSES or self._cancel is not None:
            status = view.status if view else "not held"
            raise BookingNotCancellable(f"a booking that is {status} cannot be cancelled")
        if view.status == BookingStatus.CONFIRMED and self._session_started():
            raise BookingNotCancellable("the session has started")

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        """Stripe retries and reorders webhooks: each event id counts once."""
        if event.event_id in self._seen_event_ids:
            return
        self._seen_event_ids.add(event.event_id)
        self._events.append(event)

    @workflow.query
    def view(self) -> BookingView | None:
        return self._view

    # ---- lifecycle ------------------------------------------------------------------------

    async def _hold_places(self) -> bool:
        request = self._request
        try:
            reservation = await workflow.execute_local_activity_method(
                InventoryActivities.reserve, request, **RESERVE_STEP
            )
        except (ActivityError, ApplicationError) as err:  # local activities raise the latter
            return self._reject(err)
        self._reservation = reservation
        try:
            intent = await self._stripe(
                PaymentActivities.create_intent,
                CreatePaymentIntent(
                    request.booking_id,
                    reservation.amount_total,
                    reservation.currency,
                    request.customer_email,
                ),
                STRIPE_SETUP_STEP,
            )
        except (ActivityError, ApplicationError) as err:
            await self._release()
            return self._reject(err)
        view = BookingView(
            id=request.booking_id,
            status=BookingStatus.PENDING_PAYMENT,
            session_id=reservation.session_id,
            seat_labels=reservation.seat_labels,
            amount_subtotal=reservation.amount_subtotal,
            discount=reservation.discount,
            amount_total=reservation.amount_total,
            currency=reservation.currency,
            hold_expires_at=reservation.hold_expires_at,
            payment_intent_id=intent.id,
            client_secret=intent.client_secret,
        )
        await self._record(view)
        return True

    async def _await_payment(self) -> None:
        """Race payment events and cancellation against the hold timer."""
        extensions = 0
        while self._status == BookingStatus.PENDING_PAYMENT:
            if not await self._wait_for_message(self._v.hold_expires_at):
                intent = await self._cancel_intent()
                if intent.status == "processing" and extensions < self._timings.max_hold_extensions:
                    extensions += 1
                    await self._extend_hold()
                elif intent.status == "succeeded":
                    await self._confirm(intent)
                else:
                    await self._close(BookingStatus.EXPIRED, "the hold ended before payment")
            elif self._cancel is not None:
                intent = await self._cancel_intent()
                if intent.status == "succeeded":
                    await self._confirm(intent)  # then refunded below, as any paid cancellation
                else:
                    await self._close(BookingStatus.CANCELLED, self._cancel.reason)
            else:
                await self._on_payment_event(self._events.pop(0))

    async def _on_payment_event(self, event: PaymentEvent) -> None:
        if event.type == "payment_intent.payment_failed":
            failure = event.failure_message or "the payment was declined"
            self._view = replace(self._v, payment_failures=[*self._v.payment_failures, failure])
            return
        # succeeded, processing, canceled: Stripe's current state decides, not the event.
        intent = await self._read_intent()
        if intent.status == "succeeded":
            await self._confirm(intent)
        elif intent.status == "canceled":
            self._intent_cancelled = True
            await self._close(BookingStatus.CANCELLED, "the payment was cancelled at Stripe")

    async def _confirm(self, intent: PaymentIntentInfo) -> None:
        view = self._v
        if (intent.amount_received, intent.currency) != (view.amount_total, view.currency):
            paid = f"{intent.amount_received} {intent.currency}"
            refunded = await self._refund("amount-mismatch")
            await self._close(
                BookingStatus.REFUNDED,
                f"paid {paid}, expected {view.amount_total} {view.currency}: refunded",
                refunded,
            )
            return
        confirmation = await workflow.execute_local_activity_method(
            InventoryActivities.confirm, view.id, **DATABASE_STEP
        )
        self._view = replace(
            view,
            status=BookingStatus.CONFIRMED,
            reference=confirmation.reference,
            confirmed_at=confirmation.confirmed_at,
        )
        self._publish()
        await self._issue_document("receipt", intent)
        await self._tell("confirmation")

    async def _until_session_ends(self) -> None:
        """Remind the customer a day before; refund on cancellation; complete at the end."""
        assert self._reservation is not None
        ends_at = self._reservation.session_ends_at
        remind_at: datetime | None = None
        if workflow.patched(NOTIFICATIONS_PATCH):
            remind_at = self._reservation.session_starts_at - timedelta(
                seconds=self._timings.reminder_before_seconds
            )
        while self._status == BookingStatus.CONFIRMED:
            reminder_due = remind_at is not None and remind_at > workflow.now()
            deadline = remind_at if reminder_due and remind_at else ends_at
            if not await self._wait_for_message(deadline):
                if reminder_due:
                    remind_at = None
                    await self._tell("reminder")
                else:
                    await self._record(replace(self._v, status=BookingStatus.COMPLETED))
            elif self._cancel is not None:
                refunded = await self._refund("cancel")
                await self._close(BookingStatus.REFUNDED, self._cancel.reason, refunded)
            elif self._events.pop(0).type == "charge.refunded":
                await self._close(
                    BookingStatus.REFUNDED, "refunded at Stripe", self._v.amount_total
                )

    async def _refund_late_payments(self) -> None:
        """No succeeded payment is left without a booking or a refund (brief, invariant I2)."""
        if self._intent_cancelled:
            return  # a cancelled PaymentIntent can never be paid
        until = workflow.now() + timedelta(seconds=self._timings.late_payment_window_seconds)
        while await self._wait_for_message(until):
            event = self._events.pop(0)
            if event.type != "payment_intent.succeeded" or self._v.refund_ids:
                continue
            intent = await self._read_intent()
            if intent.status == "succeeded":
                refunded = await self._refund("late-payment")
                await self._record(replace(self._v, status_reason="a late payment was refunded"))
                await self._tell("late_payment_refunded", refund_amount=refunded)

    # ---- steps ----------------------------------------------------------------------------

    async def _wait_for_message(self, deadline: datetime) -> bool:
        """True when a cancel request or payment event waits; False once `deadline` passes."""
        remaining = (deadline - workflow.now()).total_seconds()
        if not self._has_message() and remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._has_message, timeout=remaining)
        return self._has_message()

    def _has_message(self) -> bool:
        return bool(self._events) or (self._cancel is not None and self._status in OPEN_STATUSES)

    async def _extend_hold(self) -> None:
        extended = workflow.now() + timedelta(seconds=self._timings.hold_extension_seconds)
        await self._record(
            replace(self._v, hold_expires_at=extended, status_reason="payment is processing")
        )

    async def _close(self, status: BookingStatus, reason: str, refunded: int | None = None) -> None:
        """Release the places, record the end, and tell the customer."""
        await self._release()
        if refunded is not None and self._v.reference:
            # Before the new status shows: whoever sees REFUNDED can fetch the credit note.
            await self._issue_document("credit_note", None)
        await self._record(replace(self._v, status=status, status_reason=reason))
        if self._cancel is not None and self._cancel.session_cancelled:
            email = "session_cancelled"
        else:
            email = {
                BookingStatus.EXPIRED: "hold_expired",
                BookingStatus.REFUNDED: "refunded",
            }.get(status, "cancelled")
        await self._tell(email, refund_amount=refunded)

    async def _issue_document(self, kind: str, intent: PaymentIntentInfo | None) -> None:
        if not workflow.patched(NOTIFICATIONS_PATCH):
            return
        request = IssueDocument(self._v.id, kind)
        if intent is not None:
            request.card_brand, request.card_last4 = intent.card_brand, intent.card_last4
        try:
            document = await workflow.execute_activity_method(
                ReceiptActivities.issue, request, **DOCUMENT_STEP
            )
        except ActivityError as err:
            workflow.logger.error("no %s for booking %s: %s", kind, self._v.id, err.cause)
            return
        self._view = replace(self._v, documents=[*self._v.documents, document.number])

    async def _tell(self, kind: str, refund_amount: int | None = None) -> None:
        """Email the customer; an email that cannot be sent is noted, never fatal."""
        if not workflow.patched(NOTIFICATIONS_PATCH):
            return
        try:
            outcome = await workflow.execute_activity_method(
                NotificationActivities.send,
                EmailRequest(self._v.id, kind, refund_amount),
                **EMAIL_STEP,
            )
        except ActivityError as err:
            workflow.logger.error("email %s for booking %s failed: %s", kind, self._v.id, err)
            refused = True
        else:
            refused = outcome.status == "refused"
        if refused:
            self._view = replace(self._v, emails_refused=[*self._v.emails_refused, kind])

    async def _release(self) -> None:
        await workflow.execute_local_activity_method(
            InventoryActivities.release, self._request.booking_id, **DATABASE_STEP
        )

    async def _refund(self, reason: str) -> int:
        """Refund in full through Stripe; returns the amount refunded."""
        refund = await workflow.execute_activity_method(
            PaymentActivities.refund,
            RefundRequest(self._v.id, self._payment_intent_id, reason),
            **STRIPE_STEP,
        )
        self._view = replace(self._v, refund_ids=[*self._v.refund_ids, refund.id])
        return refund.amount

    async def _cancel_intent(self) -> PaymentIntentInfo:
        intent = await workflow.execute_activity_method(
            PaymentActivities.cancel_intent, self._payment_intent_id, **STRIPE_STEP
        )
        self._intent_cancelled = intent.status == "canceled"
        return intent

    async def _read_intent(self) -> PaymentIntentInfo:
        return await self._stripe(
            PaymentActivities.get_intent, self._payment_intent_id, STRIPE_STEP
        )

    async def _stripe(
        self,
        method: Callable[[PaymentActivities, Arg], Awaitable[Result]],
        arg: Arg,
        options: StepOptions,
    ) -> Result:
        """A short Stripe call: a local activity, or a regular one when replaying old runs."""
        if workflow.patched(LOCAL_STRIPE_PATCH):
            return await workflow.execute_local_activity_method(method, arg, **options)
        return await workflow.execute_activity_method(method, arg, **options)

    async def _record(self, view: BookingView) -> None:
        """Mirror to the database first, so whoever reads the new view can find it there too."""
        await workflow.execute_local_activity_method(
            InventoryActivities.record,
            Transition(
                booking_id=view.id,
                status=view.status,
                status_reason=view.status_reason,
                payment_intent_id=view.payment_intent_id,
                hold_expires_at=view.hold_expires_at,
            ),
            **DATABASE_STEP,
        )
        self._view = view
        self._publish()

    def _publish(self) -> None:
        view = self._v
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.BOOKING_STATUS.value_set(view.status.value),
            sa.HOLD_EXPIRES_AT.value_set(view.hold_expires_at),
        ]
        if view.reference:
            updates.append(sa.BOOKING_REFERENCE.value_set(view.reference))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            f"**{view.status.value}**" + (f" — {view.status_reason}" if view.status_reason else "")
        )

    def _reject(self, err: ActivityError | ApplicationError) -> bool:
        cause = err.cause if isinstance(err, ActivityError) else err
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            self._rejection = cause
        else:
            self._rejection = ServiceUnavailable(f"could not set the booking up: {cause}")
        workflow.upsert_search_attributes([sa.BOOKING_STATUS.value_set(BookingStatus.REJECTED)])
        return False

    def _session_started(self) -> bool:
        assert self._reservation is not None
        return workflow.now() >= self._reservation.session_starts_at

    @property
    def _v(self) -> BookingView:
        assert self._view is not None, "the booking has no places yet"
        return self._view

    @property
    def _status(self) -> BookingStatus | None:
        return self._view.status if self._view else None

    @property
    def _payment_intent_id(self) -> str:
        assert self._v.payment_intent_id is not None
        return self._v.payment_intent_id
