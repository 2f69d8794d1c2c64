"""The booking workflow's activity calls: each one names its activity and its options once."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReleaseResult
    from activities.moves import MoveActivities, MoveSettled
    from activities.notifications import NotificationActivities
    from activities.payment_setup import PaymentSetupActivities
    from activities.payments import PaymentActivities
    from activities.receipts import ReceiptActivities
    from activities.refunds import RefundActivities
    from core.enums import DeliveryOutcome, DocumentKind, EmailKind, RecordOutcome
    from core.errors import PaymentProviderUnavailable, business_failure
    from messages import search_attributes as sa
    from messages.booking import (
        BookingRequest,
        BookingView,
        BookingWorkflowInput,
        Confirmation,
        DocumentRef,
        EmailRequest,
        HoldMove,
        IssueDocument,
        OpenMovePayment,
        RecordRefund,
        Refund,
        ReleaseSome,
        Repriced,
        Reservation,
        SettleMove,
        SettleSplit,
        SplitSettled,
        Transition,
        booking_workflow_id,
    )
    from messages.payments import CreatePaymentIntent, PaymentIntentInfo, RefundInfo, RefundRequest
    from workflows.options import (
        DATABASE_STEP,
        DOCUMENT_STEP,
        EMAIL_STEP,
        RESERVE_STEP,
        STRIPE_SETUP_STEP,
        STRIPE_STEP,
        StepOptions,
    )


def _bounded(options: StepOptions, within: timedelta | None) -> StepOptions:
    """`options` whose retries give up after about `within`.

    Local activities ignore schedule_to_close_timeout when retrying (temporalio 1.35), so the
    bound is also spelled as attempts of at most `within` each, a second apart.
    """
    if within is None:
        return options
    attempt = min(options.get("start_to_close_timeout", within), within)
    attempts = max(1, int(within / (attempt + _BOUNDED_RETRY_INTERVAL)))
    return {
        **options,
        "start_to_close_timeout": attempt,
        "schedule_to_close_timeout": within,
        "retry_policy": RetryPolicy(
            initial_interval=_BOUNDED_RETRY_INTERVAL,
            backoff_coefficient=1.0,
            maximum_attempts=attempts,
        ),
    }


_BOUNDED_RETRY_INTERVAL = timedelta(seconds=1)


def outcome(err: FailureError) -> ApplicationError:
    """What a failed step answers: the rule or the refusal that said no by name, or, once a
    Stripe step's retries reached their bound (every other step's failure is a business
    one), PaymentProviderUnavailable: the API answers 503 and the caller may try again."""
    refusal = business_failure(err)
    if refusal is not None:
        return refusal
    cause = err.cause if isinstance(err, ActivityError) else err
    return PaymentProviderUnavailable(f"Stripe did not answer in time: {cause}")


Arg = TypeVar("Arg")
Result = TypeVar("Result")


class BookingSteps:
    """One booking's calls into the world, in the order the workflow decides."""

    def __init__(self, booking_id: str) -> None:
        self._booking_id = booking_id

    async def reserve(self, request: BookingRequest) -> Reservation:
        return await workflow.execute_local_activity_method(
            InventoryActivities.reserve,
            request,
            summary=f"hold {request.quantity} place(s)",
            **RESERVE_STEP,
        )

    async def open_payment(self, reservation: Reservation, email: str) -> PaymentIntentInfo:
        """Create the PaymentIntent and record it with PENDING_PAYMENT, in one step."""
        return await workflow.execute_local_activity_method(
            PaymentSetupActivities.open_payment,
            self._payment_request(reservation, email),
            summary="create PaymentIntent, record PENDING_PAYMENT",
            **STRIPE_SETUP_STEP,
        )

    async def read_intent(
        self, payment_intent_id: str, within: timedelta | None = None
    ) -> PaymentIntentInfo:
        """The intent as Stripe holds it; `within` bounds the retries (ActivityError after)."""
        return await self._stripe(
            PaymentActivities.get_intent,
            payment_intent_id,
            _bounded(STRIPE_STEP, within),
            f"read PaymentIntent {payment_intent_id}",
        )

    async def cancel_intent(
        self, payment_intent_id: str, within: timedelta | None = None
    ) -> PaymentIntentInfo:
        """Cancel, or learn why not; `within` bounds the retries (ActivityError after)."""
        return await workflow.execute_activity_method(
            PaymentActivities.cancel_intent,
            payment_intent_id,
            summary=f"cancel PaymentIntent {payment_intent_id}",
            **_bounded(STRIPE_STEP, within),
        )

    async def refund(
        self,
        payment_intent_id: str,
        reason: str,
        amount: int | None = None,
        sequence: int | None = None,
    ) -> RefundInfo:
        """Refund in full (the safety net's), or `amount` as the booking's `sequence`-th refund
        (`reason` its RefundSource), once each whatever the retries."""
        return await workflow.execute_activity_method(
            PaymentActivities.refund,
            RefundRequest(self._booking_id, payment_intent_id, reason, amount, sequence),
            summary=f"refund ({reason})" if amount is None else f"refund {amount} ({reason})",
            **STRIPE_STEP,
        )

    async def list_refunds(self, payment_intent_id: str) -> list[RefundInfo]:
        """Every refund Stripe holds for the intent, however it was made."""
        return await workflow.execute_activity_method(
            PaymentActivities.list_refunds,
            payment_intent_id,
            summary=f"read the refunds of {payment_intent_id}",
            **STRIPE_STEP,
        )

    async def record_refund(self, currency: str, refund: Refund) -> None:
        """Write the refund into the database (once, whatever the retries)."""
        await workflow.execute_local_activity_method(
            RefundActivities.record,
            RecordRefund(self._booking_id, currency, refund),
            summary=f"record refund {refund.sequence}",
            **DATABASE_STEP,
        )

    async def release_some(self, seat_labels: list[str], kept: Repriced) -> Repriced:
        """Free these sold places; the booking keeps `kept` at the price given."""
        return await workflow.execute_local_activity_method(
            InventoryActivities.release_some,
            ReleaseSome(self._booking_id, seat_labels, kept),
            summary=f"release {len(seat_labels)} place(s)",
            **DATABASE_STEP,
        )

    async def hold_move(self, hold: HoldMove) -> Reservation:
        """Hold the places of the session the booking moves to (a refusal: nothing held)."""
        return await workflow.execute_local_activity_method(
            MoveActivities.hold,
            hold,
            summary=f"hold {hold.quantity} place(s) of session {hold.session_id}",
            **DATABASE_STEP,
        )

    async def settle_move(self, settle: SettleMove) -> MoveSettled:
        """The target's places sold, the source's freed, the booking of the target."""
        return await workflow.execute_local_activity_method(
            MoveActivities.settle,
            settle,
            summary=f"move to session {settle.to.session_id}",
            **DATABASE_STEP,
        )

    async def settle_split(self, settle: SettleSplit) -> SplitSettled:
        """A partial move: the places moved become a booking of their own (`settle_split`)."""
        return await workflow.execute_local_activity_method(
            MoveActivities.settle_split,
            settle,
            summary=f"split {len(settle.moved)} place(s) off to session {settle.to.session_id}",
            **DATABASE_STEP,
        )

    async def start_split(self, input: BookingWorkflowInput) -> None:
        """The workflow of a booking split off by a partial move: a child that outlives this
        booking's (ABANDON), found by its search attributes as any booking's, in its session.
        Started again (a retried task), it is the one started already."""
        attributes = workflow.info().typed_search_attributes.updated(
            SearchAttributePair(sa.SESSION_ID, input.request.session_id)
        )
        await workflow.start_child_workflow(
            "BookingWorkflow",
            input,
            id=booking_workflow_id(input.request.booking_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=attributes,
            static_summary=f"{input.request.quantity} place(s) split from booking "
            f"{self._booking_id}",
        )

    async def open_move_payment(self, request: OpenMovePayment) -> PaymentIntentInfo:
        """The PaymentIntent of a dearer move's difference, created and recorded."""
        return await workflow.execute_local_activity_method(
            PaymentSetupActivities.open_move_payment,
            request,
            summary=f"create PaymentIntent of move {request.move_number}'s difference",
            **STRIPE_SETUP_STEP,
        )

    async def release_move(self, hold: HoldMove) -> int:
        """Give back the places held for a move that will not happen."""
        return await workflow.execute_local_activity_method(
            MoveActivities.release,
            hold,
            summary=f"release the places held in session {hold.session_id}",
            **DATABASE_STEP,
        )

    async def confirm(self) -> Confirmation:
        return await workflow.execute_local_activity_method(
            InventoryActivities.confirm,
            self._booking_id,
            summary="sell the places",
            **DATABASE_STEP,
        )

    async def discard(self) -> ReleaseResult:
        """Undo a failed setup: places freed and the booking row gone."""
        return await workflow.execute_local_activity_method(
            InventoryActivities.discard,
            self._booking_id,
            summary="undo the failed setup",
            **DATABASE_STEP,
        )

    async def release(self) -> ReleaseResult:
        return await workflow.execute_local_activity_method(
            InventoryActivities.release,
            self._booking_id,
            summary="release the places",
            **DATABASE_STEP,
        )

    async def record(
        self, view: BookingView, *, unless_session_cancelled: bool = False
    ) -> RecordOutcome:
        """Mirror the view's status into the database."""
        return await workflow.execute_local_activity_method(
            InventoryActivities.record,
            Transition(
                booking_id=view.id,
                status=view.status,
                status_reason=view.status_reason,
                payment_intent_id=view.payment_intent_id,
                hold_expires_at=view.hold_expires_at,
                amount_paid=view.amount_paid,
                unless_session_cancelled=unless_session_cancelled,
            ),
            summary=f"record {view.status}",
            **DATABASE_STEP,
        )

    async def issue_document(
        self,
        kind: DocumentKind,
        intent: PaymentIntentInfo | None,
        refund: Refund | None = None,
        move_number: int | None = None,
    ) -> DocumentRef | None:
        """The receipt (of a move's difference, with `move_number`) or credit note (of one
        refund, with `refund`); None when it could not be issued (logged, not fatal)."""
        request = IssueDocument(self._booking_id, kind, refund=refund, move_number=move_number)
        if intent is not None:
            request.card_brand, request.card_last4 = intent.card_brand, intent.card_last4
        try:
            return await workflow.execute_activity_method(
                ReceiptActivities.issue,
                request,
                summary=f"issue {kind.replace('_', ' ')}",
                **DOCUMENT_STEP,
            )
        except ActivityError as err:
            workflow.logger.error("no %s for booking %s: %s", kind, self._booking_id, err.cause)
            return None

    async def send_email(
        self,
        kind: EmailKind,
        refund_amount: int | None = None,
        refund_sequence: int | None = None,
        *,
        moved_from: str | None = None,
        move_number: int | None = None,
    ) -> bool:
        """Email the customer; False when it was refused for good (never fatal to the booking).
        `moved_from`: the session a move left; `move_number`: the booking's moves so far."""
        request = EmailRequest(
            self._booking_id, kind, refund_amount, refund_sequence, moved_from, move_number
        )
        try:
            outcome = await workflow.execute_activity_method(
                NotificationActivities.send,
                request,
                summary=f"email {kind.replace('_', ' ')}",
                **EMAIL_STEP,
            )
        except ActivityError as err:
            workflow.logger.error("email %s for booking %s failed: %s", kind, self._booking_id, err)
            return False
        return outcome.status != DeliveryOutcome.REFUSED

    def _payment_request(self, reservation: Reservation, email: str) -> CreatePaymentIntent:
        return CreatePaymentIntent(
            self._booking_id, reservation.amount_total, reservation.currency, email
        )

    async def _stripe(
        self,
        method: Callable[[PaymentActivities, Arg], Awaitable[Result]],
        arg: Arg,
        options: StepOptions,
        summary: str,
    ) -> Result:
        """A short Stripe call, as a local activity."""
        return await workflow.execute_local_activity_method(method, arg, summary=summary, **options)
