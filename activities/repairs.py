"""The safety net's eyes and hands: what no booking workflow will ever put right, found by the
same finders the consistency check uses (reconcile.findings), and the repairs that re-check, in the
statement that acts, what the search saw."""

import uuid
from datetime import UTC, datetime, timedelta

import stripe
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.notifications import NotificationActivities, email_key
from activities.waiting_list_signals import nudge_waiting_list
from core.db import transaction
from core.enums import BookingStatus, DocumentKind, EmailKind, NotificationStatus, SeatState
from messages.booking import EmailOutcome, EmailRequest
from messages.repairs import (
    BookingMoney,
    ClaimedIntent,
    OrphanHold,
    RefundsMade,
    SafetyNetInput,
    StalledList,
    StripeRefundsInput,
    UnclaimedPayment,
)
from models.tables import Booking, BookingPayment, BookingRefund, Notification, Receipt, Seat
from reconcile import findings
from reconcile.snapshot import IS_CLAIM
from reconcile.waiting_lists import stalled_lists
from store.personal_data import ERASED

# An email the ledger marks failed is sent again by each run until it has had this many
# attempts in all (each of the booking's own counts): past it, it stays failed for an operator.
EMAIL_ATTEMPTS = 100
# The emails that tell an amount of money back: the whole of what was refunded.
_TELL_TOTAL_REFUNDED = frozenset(
    {EmailKind.REFUNDED, EmailKind.SESSION_CANCELLED, EmailKind.LATE_PAYMENT_REFUNDED}
)
STRIPE_REFUNDS_WORKFLOW = "StripeRefundsWorkflow"
REFUNDS_MADE_SIGNAL = "refunds_made"


def stripe_refunds_workflow_id(booking_id: str) -> str:
    """One recorder per booking: a second `charge.refunded` joins the running one."""
    return f"booking-{booking_id}-stripe-refunds"


async def record_stripe_refunds(temporal: Client, task_queue: str, notice: RefundsMade) -> None:
    """Start the booking's recorder, or tell the running one (signal-with-start)."""
    await temporal.start_workflow(
        STRIPE_REFUNDS_WORKFLOW,
        StripeRefundsInput(notice.booking_id),
        id=stripe_refunds_workflow_id(notice.booking_id),
        task_queue=task_queue,
        start_signal=REFUNDS_MADE_SIGNAL,
        start_signal_args=[notice],
        rpc_timeout=timedelta(seconds=5),
    )


class RepairActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        stripe_client: stripe.StripeClient,
        notifications: NotificationActivities | None = None,
    ):
        """`notifications` None: failed emails are found but not sent again."""
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._stripe = stripe_client
        self._notifications = notifications

    @activity.defn(name="find_orphan_holds")
    async def orphan_holds(self, input: SafetyNetInput) -> list[OrphanHold]:
        """Bookings holding places they will never release: their workflow ended, or they are
        pending long past their hold (at most `input.batch`). Paid places (sold to a confirmed
        booking) are not here."""
        found = await findings.orphan_holds(
            self._sessionmaker,
            self._temporal,
            grace=timedelta(seconds=input.hold_grace_seconds),
            settle_seconds=input.settle_seconds,
        )
        holds = [
            OrphanHold(hold.booking_id, hold.status, hold.workflow_open)
            for hold in found
            if hold.held and hold.status not in findings.CLAIMING
        ]
        return holds[: input.batch]

    @activity.defn(name="release_orphan_places")
    async def release(self, hold: OrphanHold) -> int:
        """Free the places the booking still HOLDS, unless it is CONFIRMED now, in one statement:
        a slow workflow that confirmed since the search keeps its SOLD places. A confirm still
        in flight holds the seat rows; this waits for it, and PostgreSQL re-checks `state` on
        the rows it committed. How many places went back."""
        key = uuid.UUID(hold.booking_id)
        not_confirmed = exists().where(Booking.id == key, Booking.status != BookingStatus.CONFIRMED)
        async with transaction(self._sessionmaker) as db:
            freed = await db.scalars(
                update(Seat)
                .where(Seat.booking_id == key, Seat.state == SeatState.HELD, not_confirmed)
                .values(state=SeatState.FREE, booking_id=None)
                .returning(Seat.id)
            )
            return len(freed.all())

    @activity.defn(name="find_stalled_waiting_lists")
    async def stalled_lists(self, input: SafetyNetInput) -> list[StalledList]:
        """Waiting lists whose workflow will not move them on (reconcile.waiting_lists): an
        offer past its deadline still holding its places, or places free while someone waits
        and no list workflow running (at most `input.batch`)."""
        found = await stalled_lists(
            self._sessionmaker,
            self._temporal,
            grace=timedelta(seconds=input.offer_grace_seconds),
            settle=timedelta(seconds=input.settle_seconds),
        )
        return found[: input.batch]

    @activity.defn(name="nudge_stalled_waiting_list")
    async def nudge_list(self, stalled: StalledList) -> None:
        """Wake (or start) the session's list workflow: its round lets overdue offers lapse and
        offers the free places, as after any nudge."""
        await nudge_waiting_list(
            self._temporal,
            activity.info().task_queue,
            stalled.session_id,
            f"waiting list · session {stalled.session_id} · nudged by the safety net",
        )

    @activity.defn(name="find_unclaimed_payments")
    async def unclaimed_payments(self, input: SafetyNetInput) -> list[UnclaimedPayment]:
        """Succeeded payments for a booking in our database (metadata.booking_id) that no
        confirmed booking claims, with money no booking holds, and no live workflow will claim
        or refund (at most `input.batch`): what to refund is what no booking holds of it.
        Money that names no booking of ours is never refunded here."""
        since = datetime.now(UTC) - timedelta(seconds=input.payment_window_seconds)
        found = await findings.unclaimed_payments(
            self._sessionmaker,
            self._temporal,
            self._stripe,
            created_since=since,
            settle_seconds=input.settle_seconds,
        )
        payments = [
            UnclaimedPayment(
                payment.payment_intent_id,
                payment.booking_id,
                payment.unclaimed,
                payment.currency,
                payment.account,
                in_full=payment.unclaimed == payment.amount - payment.refunded,
            )
            for payment in found
            if payment.booking_id is not None and payment.booking_status is not None
        ]
        return payments[: input.batch]

    @activity.defn(name="read_booking_money")
    async def booking_money(self, booking_id: str) -> BookingMoney | None:
        """The booking's payment, its claims and the refunds it has recorded; None if there is
        no such booking."""
        key = uuid.UUID(booking_id)
        async with self._sessionmaker() as db:
            booking = await db.get(Booking, key)
            if booking is None:
                return None
            recorded = (
                await db.execute(
                    select(BookingRefund.stripe_refund_id, BookingRefund.sequence).where(
                        BookingRefund.booking_id == key
                    )
                )
            ).all()
            claims = (
                await db.execute(
                    select(
                        BookingPayment.payment_intent_id,
                        BookingPayment.amount,
                        BookingPayment.transferred_from,
                        BookingPayment.move_number,
                    )
                    .where(BookingPayment.booking_id == key, IS_CLAIM)
                    .order_by(
                        BookingPayment.transferred_from.is_not(None),
                        BookingPayment.move_number.nulls_first(),
                        BookingPayment.created_at,
                    )
                )
            ).all()
            has_receipt = await db.scalar(
                select(
                    exists().where(Receipt.booking_id == key, Receipt.kind == DocumentKind.RECEIPT)
                )
            )
        return BookingMoney(
            booking_id,
            BookingStatus(booking.status),
            booking.currency,
            booking.payment_intent_id,
            confirmed=booking.confirmed_at is not None,
            has_receipt=bool(has_receipt),
            recorded=[refund_id for refund_id, _ in recorded],
            last_sequence=max((sequence for _, sequence in recorded), default=0),
            moved_payments=[
                claim.payment_intent_id
                for claim in claims
                if claim.move_number is not None and claim.transferred_from is None
            ],
            claims=[
                ClaimedIntent(claim.payment_intent_id, claim.amount, claim.transferred_from is None)
                for claim in claims
            ],
            paid=booking.paid,
        )

    @activity.defn(name="start_stripe_refunds_recording")
    async def record_refunds(self, notice: RefundsMade) -> None:
        """Have the booking's recorder read its refunds at Stripe (signal-with-start)."""
        await record_stripe_refunds(self._temporal, activity.info().task_queue, notice)

    @activity.defn(name="find_failed_emails")
    async def failed_emails(self, input: SafetyNetInput) -> list[EmailRequest]:
        """Emails the ledger marks failed (at most `input.batch`, oldest first), as the request
        that makes them again; not those of erased customers, nor those past EMAIL_ATTEMPTS."""
        async with self._sessionmaker() as db:
            failed = (
                await db.scalars(
                    select(Notification)
                    .where(
                        Notification.status == NotificationStatus.FAILED,
                        Notification.recipient != ERASED,
                        Notification.attempts < EMAIL_ATTEMPTS,
                    )
                    .order_by(Notification.created_at)
                    .limit(input.batch)
                )
            ).all()
            requests = []
            for email in failed:
                refunds = (
                    await db.execute(
                        select(BookingRefund.sequence, BookingRefund.amount)
                        .where(BookingRefund.booking_id == email.booking_id)
                        .order_by(BookingRefund.sequence)
                    )
                ).all()
                booking = await db.get(Booking, email.booking_id)
                paid = booking is not None and booking.confirmed_at is not None
                requests.append(_request_again(email, dict(refunds), paid))
        return requests

    @activity.defn(name="send_failed_email_again")
    async def send_again(self, request: EmailRequest) -> EmailOutcome:
        """The ledger's row back to `sending`, then the one send activity sends it (once)."""
        assert self._notifications is not None, "the worker gives the safety net its mailer"
        key = email_key(request)
        async with self._sessionmaker.begin() as db:
            await db.execute(
                update(Notification)
                .where(
                    Notification.key == key,
                    Notification.status == NotificationStatus.FAILED,
                )
                .values(status=NotificationStatus.SENDING)
            )
        return await self._notifications.send(request)


def _request_again(email: Notification, refunds: dict[int, int], paid: bool) -> EmailRequest:
    """The request the booking made for this email, from the ledger: a partial refund's email
    tells that refund; the emails of a booking's end tell its last refund (a cancel) or all
    that came back, as the booking workflow's do."""
    kind = EmailKind(email.kind)
    request = EmailRequest(str(email.booking_id), kind)
    last = max(refunds, default=None)
    if kind in (EmailKind.MOVED, EmailKind.REMINDER) and email.key.count(":") == 2:
        request.move_number = int(email.key.rsplit(":", 1)[1])
    if kind == EmailKind.PARTLY_REFUNDED:
        request.refund_sequence = int(email.key.rsplit(":", 1)[1])
        request.refund_amount = refunds.get(request.refund_sequence, 0)
    elif kind == EmailKind.SESSION_CHANGED:  # <booking>:session_changed:<sequence>[:<session>]
        sequence, *session = email.key.split(":")[2:]
        request.change_sequence = int(sequence)
        request.change_session_id = session[0] if session else None
    elif kind in _TELL_TOTAL_REFUNDED:
        request.refund_sequence, request.refund_amount = last, sum(refunds.values())
    elif kind == EmailKind.CANCELLED and paid:
        request.refund_sequence = last
        request.refund_amount = refunds[last] if last is not None else 0
    elif kind == EmailKind.CERTIFICATE:  # <booking>:certificate:<index>[:<reissue>]
        index, *reissue = email.key.split(":")[2:]
        request.attendee_index, request.reissue = int(index), int(reissue[0]) if reissue else 0
    return request
