"""A CONFIRMED booking moving to another session of its organisation, carried out as one of
its workflow's orders (`BookingChanges`): the target's places held first, then the money, then
the move settled (the target's places sold and the source's freed in one transaction), then
its documents and the customer's email with the old event's cancellation and the new one.

The money: a cheaper target refunds the difference by the source session's policy in force
when the move was accepted (with a credit note); the same price moves nothing; a dearer target
asks for the difference on a PaymentIntent of its own (`move_payment`, in the booking's Stripe
account), answering the caller with it, and waits for it until the target's hold ends (the
session's hold duration). Paid: the move settles, what the booking paid grows by the
difference, and the difference gets a receipt of its own (the booking's first receipt stays as
issued). Not paid in time, or a cancel comes: the intent is cancelled at Stripe, the target's
places given back, and the booking is as it was; money paid on it later is refunded
(`refund_late_payment`).

A refusal anywhere before the move is settled gives the target's places back: the booking is
as it was (a difference paid for a move that could then not settle is refunded in full).

The booking keeps its id and reference; its places, amounts and session are the target's, and
`state.places` the target's reservation, so later orders price and refund against it."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from core import booking_rules as rules
    from core.enums import BookingStatus, DocumentKind, EmailKind, RefundSource
    from core.errors import BookingNotChangeable, InvalidRequest
    from core.pricing import kept
    from messages.booking import (
        BookingView,
        BookingWorkflowInput,
        Claim,
        HoldMove,
        MoveOrder,
        MovePayment,
        OpenMovePayment,
        Refund,
        Repriced,
        Reservation,
        SettleMove,
        SettleSplit,
        SplitOff,
        SplitSettled,
        Timings,
    )
    from messages.payments import PaymentEvent, PaymentEventType, PaymentIntentInfo, PaymentState
    from workflows import visibility
    from workflows.booking_state import BookingState
    from workflows.options import MOVE_PAYMENTS, PARTIAL_MOVES
    from workflows.refund_book import Asked, RefundBook
    from workflows.steps import BookingSteps

ABANDONED = "the difference was not paid before the hold ended"
NOTHING_PAID = (
    "the session moved to is dearer: a booking with nothing paid moves only where nothing is to "
    "be paid"
)

T = TypeVar("T")


class BookingMove:
    """Moves of the booking `state` holds, refunded through `refunds`; `grace` bounds each wait
    on Stripe at a dearer move's end."""

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
        self._grace = grace
        # A booking split off lives by the same timings (`_split_off`).
        self._timings = timings
        # The intents of dearer moves given up: paid later, they are refunded.
        self.abandoned: set[str] = set()
        # Each intent of a difference has a number of its own (its Stripe idempotency key, its
        # `booking_payments` row): the booking's moves + 1 + the numbers spent by differences
        # no settled move counts (a partial move's, a move given up).
        self._numbers_spent = 0

    def check(self, order: MoveOrder, at: datetime) -> list[str]:
        """What the workflow alone can tell (the target's rules are the hold's): the places
        that move."""
        rules.check_text(order.reason)
        rules.check_changeable(self._state.status, cancel_pending=False)
        places = self._state.places
        if order.session_id == places.session_id:
            raise InvalidRequest("the booking is in this session already")
        if rules.started(places.session_starts_at, at):
            raise BookingNotChangeable("the session has started")
        held = self._state.booking.seat_labels
        if order.seat_labels and order.count:
            raise InvalidRequest("give either the seats to move or a count of places")
        labels = order.labels_of(held)
        unknown = sorted(set(labels) - set(held))
        if unknown:
            raise InvalidRequest(f"seats not in this booking: {', '.join(unknown)}", seats=unknown)
        if rules.repeats(labels):
            raise InvalidRequest("a seat is listed twice")
        return labels

    async def carry_out(
        self, order: MoveOrder, accepted_at: datetime, answer: Callable[[BookingView], None]
    ) -> None:
        """`answer` tells the caller of a dearer move its payment before the wait for it."""
        labels = self.check(order, accepted_at)
        if len(labels) < len(self._state.booking.seat_labels):
            await self._split(order, labels, accepted_at, answer)
            return
        booking = self._state.booking
        hold = HoldMove(booking.id, order.session_id, len(booking.seat_labels))
        to = await self._steps.hold_move(hold)
        difference = to.amount_total - booking.amount_total
        number = self._difference_number()
        refund: list[Asked] = []
        paid: PaymentIntentInfo | None = None
        if difference > 0 and (self._refunds.free or not workflow.patched(MOVE_PAYMENTS)):
            # Nothing paid (a free booking: its money would be only the difference, and the
            # booking's own refunds and cancel know none), or started before moves could be
            # paid: refused, the places given back.
            await self._steps.release_move(hold)
            raise BookingNotChangeable(
                NOTHING_PAID
                if self._refunds.free
                else "the session moved to is dearer: moves that need a payment are not available",
                difference=difference,
            )
        if difference > 0:
            self._numbers_spent += 1  # until the move settles and its count takes the number
            paid, hold = await self._difference_paid(hold, to, difference, answer, number)
        else:
            refund = await self._or_release(hold, self._refund_difference(-difference, accepted_at))
        source = self._state.places
        settle = SettleMove(booking.id, source.session_id, to)
        if paid is not None:
            settle = replace(settle, paid=difference, payment_intent_id=paid.id)
        try:
            settled = await self._or_release(hold, self._steps.settle_move(settle), paid)
        except FailureError:
            if refund:  # made at Stripe: the booking stays, with the refund
                await self._note(refund, f"{order.reason}: the move was refused")
            raise
        self._state.moved_to(to, settled.move_number)
        self._state.revise(
            session_id=to.session_id,
            seat_labels=to.seat_labels,
            amount_subtotal=to.amount_subtotal,
            discount=to.discount,
            amount_total=to.amount_total,
        )
        if paid is not None:
            self._numbers_spent -= 1
            self._refunds.claims.append((paid.id, difference))
            self._state.revise(
                amount_paid=self._state.booking.amount_paid + difference, move_payment=None
            )
        visibility.publish_moved(self._state.booking)
        if paid is not None:
            await self._state.issue_document(DocumentKind.RECEIPT, paid, move_number=number)
        noted = (await self._note(refund, order.reason))[-1] if refund else None
        await self._state.send_email(
            EmailKind.MOVED,
            sum(r.info.amount for r in refund) if refund else None,
            noted.sequence if noted else None,
            source.session_id,
        )

    def _difference_number(self) -> int:
        """The number of the next difference's intent (a whole move's: its move's number)."""
        return self._state.moves + 1 + self._numbers_spent

    async def _split(
        self,
        order: MoveOrder,
        labels: list[str],
        accepted_at: datetime,
        answer: Callable[[BookingView], None],
    ) -> None:
        """Some places move: they become a booking of their own in the target, paid with their
        share of what this one paid (docs/api.md, "Partial moves"). Its share: what this
        booking's price falls by without them (`core.pricing.kept`), handed over whole
        (refused when the refunds made leave less: they stay this booking's). A cheaper
        target's difference of that share is refunded here, by the source's policy, before
        anything moves (the credit note this booking's); the rest is handed over, the newest
        claims first. A dearer target asks for the difference as a whole move does: paid, its
        intent is the new booking's claim (and receipt); not paid before the hold ends,
        nothing changed."""
        if not workflow.patched(PARTIAL_MOVES):
            raise BookingNotChangeable("moves of some of a booking's places are not available")
        booking, places = self._state.booking, self._state.places
        keep = [label for label in booking.seat_labels if label not in labels]
        price = kept(places.amount_total, places.unit_amount, places.seat_labels, keep)
        share = booking.amount_total - price.total
        if self._refunds.remaining < share:
            # The new booking would owe what this one was refunded (reconcile's total-above-
            # paid): refunds made on a booking stay its own.
            raise BookingNotChangeable(
                f"refunds made on this booking leave {self._refunds.remaining} of what was paid,"
                f" less than the {share} the places moving cost: move the whole booking",
                remaining=self._refunds.remaining,
            )
        hold = HoldMove(booking.id, order.session_id, len(labels))
        to = await self._steps.hold_move(hold)
        difference = to.amount_total - share
        paid: PaymentIntentInfo | None = None
        refunded = 0
        if difference > 0 and self._refunds.free:
            await self._steps.release_move(hold)
            raise BookingNotChangeable(NOTHING_PAID, difference=difference)
        if difference > 0:
            number = self._difference_number()
            self._numbers_spent += 1
            paid, hold = await self._difference_paid(hold, to, difference, answer, number)
            self._state.revise(move_payment=None)
        else:
            refunded = await self._refund_share(
                hold, order, labels, -difference, accepted_at, share
            )
        parts = self._refunds.hand_over(share - refunded)
        new_id = str(workflow.uuid4())
        repriced = Repriced(keep, price.subtotal, price.discount, price.total)
        settle = SettleSplit(booking.id, new_id, places.session_id, to, labels, repriced, parts)
        if paid is not None:
            settle = replace(settle, paid=difference, payment_intent_id=paid.id)
        settled = await self._or_release(hold, self._steps.settle_split(settle), paid)
        self._refunds.handed_over(parts)
        self._state.revise(
            seat_labels=keep,
            amount_subtotal=price.subtotal,
            discount=price.discount,
            amount_total=price.total,
            amount_paid=booking.amount_paid - sum(part.amount for part in parts),
            split_into=[*self._state.booking.split_into, new_id],
        )
        workflow.set_current_details(visibility.current_details(self._state.booking))
        if paid is not None:
            parts = [*parts, Claim(paid.id, difference)]
        await self._steps.start_split(self._split_off(settled, to, parts, refunded, paid))

    async def _refund_share(
        self,
        hold: HoldMove,
        order: MoveOrder,
        labels: list[str],
        difference: int,
        accepted_at: datetime,
        share: int,
    ) -> int:
        """A cheaper target's difference refunded and noted before anything moves (Stripe
        refusing: the target's places given back); the amount refunded."""
        refund = await self._or_release(
            hold, self._refund_difference(difference, accepted_at, share)
        )
        reason = f"{order.reason}: {', '.join(labels)}"
        refunds = await self._refunds.note_all(refund, reason, RefundSource.MOVE)
        return sum(one.amount for one in refunds)

    def _split_off(
        self,
        settled: SplitSettled,
        to: Reservation,
        claims: list[Claim],
        refunded: int,
        paid: PaymentIntentInfo | None,
    ) -> BookingWorkflowInput:
        """The workflow input of the booking split off: CONFIRMED, in the target."""
        booking = self._state.booking
        request = settled.request
        view = BookingView(
            id=request.booking_id,
            status=BookingStatus.CONFIRMED,
            session_id=to.session_id,
            seat_labels=to.seat_labels,
            amount_subtotal=to.amount_subtotal,
            discount=to.discount,
            amount_total=to.amount_total,
            currency=to.currency,
            hold_expires_at=to.hold_expires_at,
            reference=settled.reference,
            confirmed_at=settled.confirmed_at,
            amount_paid=sum(claim.amount for claim in claims),
            split_from=booking.id,
        )
        split = SplitOff(
            view,
            replace(to, booking_id=request.booking_id),
            claims,
            self._state.places.session_id,
            refunded or None,
            paid,
        )
        return BookingWorkflowInput(request, self._timings, split)

    async def _refund_difference(
        self, difference: int, accepted_at: datetime, refundable: int | None = None
    ) -> list[Asked]:
        """The difference of a cheaper target refunded at Stripe by the source's policy, never
        more than `refundable` (default: what remains paid)."""
        places = self._state.places
        percent = rules.policy_percent(places.refund_policy, places.session_starts_at, accepted_at)
        if refundable is None:
            refundable = self._refunds.remaining
        amount = rules.places_refund(difference, percent, refundable)
        if amount <= 0:
            return []
        return await self._refunds.ask(amount, RefundSource.MOVE)

    async def _or_release(
        self, hold: HoldMove, step: Awaitable[T], paid: PaymentIntentInfo | None = None
    ) -> T:
        """`step`'s outcome; refused, the target's places are given back and a difference
        paid for the move goes back too (the booking stays as it was), then the refusal."""
        try:
            return await step
        except FailureError:
            await self._steps.release_move(hold)
            if paid is not None:
                await self._give_back(paid, RefundSource.NOT_CONFIRMABLE)
            raise

    async def _difference_paid(
        self,
        hold: HoldMove,
        to: Reservation,
        difference: int,
        answer: Callable[[BookingView], None],
        number: int,
    ) -> tuple[PaymentIntentInfo, HoldMove]:
        """The difference's intent once paid, with the hold naming it; refused (the target's
        places given back, the intent cancelled) when it is not paid before the hold ends."""
        booking = self._state.booking
        request = OpenMovePayment(booking.id, number, to.session_id, difference, booking.currency)
        intent = await self._or_release(hold, self._steps.open_move_payment(request))
        hold = replace(hold, payment_intent_id=intent.id)
        asked = MovePayment(
            intent.id, intent.client_secret, difference, to.session_id, number, to.hold_expires_at
        )
        self._state.revise(move_payment=asked)
        answer(self._state.booking)
        paid = await self._wait_for_payment(intent.id, to.hold_expires_at)
        if paid is not None and paid.amount_received == difference:
            return paid, hold
        self._state.revise(move_payment=None)
        await self._steps.release_move(hold)
        if paid is not None:  # another amount than asked: all of it back
            await self._give_back(paid, RefundSource.AMOUNT_MISMATCH)
        raise BookingNotChangeable(ABANDONED, difference=difference)

    async def _wait_for_payment(self, intent_id: str, until: datetime) -> PaymentIntentInfo | None:
        """The intent once Stripe says it is paid; None once it is void, or when the hold ends
        or a cancel comes first (the intent then cancelled at Stripe, or remembered when Stripe
        cannot say: paid later, it is refunded)."""
        mailbox = self._state.mailbox
        while True:
            remaining = (until - workflow.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: mailbox.has_event_for(intent_id) or mailbox.cancel is not None,
                    timeout=max(remaining, 0.001),
                    timeout_summary="move payment hold expires",
                )
            event = mailbox.take_event_for(intent_id)
            if event is None:
                return await self._give_up(intent_id)
            if event.type == PaymentEventType.FAILED:
                continue
            intent = await self._read(intent_id)
            if intent is not None and intent.status == PaymentState.PAID:
                return intent
            if intent is not None and intent.status == PaymentState.VOID:
                return None

    async def _read(self, intent_id: str) -> PaymentIntentInfo | None:
        try:
            return await self._steps.read_intent(intent_id, self._grace)
        except FailureError as err:
            workflow.logger.warning("could not read %s: %s", intent_id, err)
            return None

    async def _give_up(self, intent_id: str) -> PaymentIntentInfo | None:
        """Cancel the intent at the hold's end: paid meanwhile, it is the answer."""
        try:
            intent = await self._steps.cancel_intent(intent_id, self._grace)
        except ActivityError as err:
            workflow.logger.warning("could not cancel %s: %s", intent_id, err)
            self.abandoned.add(intent_id)
            return None
        if intent.status == PaymentState.PAID:
            return intent
        if intent.status != PaymentState.VOID:
            self.abandoned.add(intent_id)
        return None

    async def _give_back(self, paid: PaymentIntentInfo, source: RefundSource) -> None:
        """All of a difference the booking will not count back; refused or unanswered by Stripe
        (logged), it is left to the safety net once the booking's workflow has ended."""
        try:
            await self._refunds.give_back(paid.id, paid.amount_received, source)
        except FailureError as err:
            workflow.logger.warning("the difference %s not refunded: %s", paid.id, err)

    def is_abandoned(self, event: PaymentEvent) -> bool:
        return event.payment_intent_id in self.abandoned

    async def refund_late_payment(self, event: PaymentEvent) -> None:
        """A dearer move's difference paid after the move was given up: all of it back, once,
        and the customer told; the booking stays as it is."""
        if event.type != PaymentEventType.SUCCEEDED:
            return
        intent = await self._steps.read_intent(event.payment_intent_id)
        if intent.status != PaymentState.PAID:
            return
        self.abandoned.discard(intent.id)
        info = await self._refunds.give_back(
            intent.id, intent.amount_received, RefundSource.LATE_PAYMENT
        )
        await self._state.send_email(EmailKind.LATE_PAYMENT_REFUNDED, info.amount)

    async def _note(self, refund: list[Asked], reason: str) -> list[Refund]:
        """The refunds recorded, with their credit notes."""
        return await self._refunds.note_all(refund, reason, RefundSource.MOVE)
