"""What the booking workflow knows of its booking: the view its callers and operators see, the
places it holds, the messages waiting (`mailbox`); and the writes that change it: the database
mirror first, then the view; documents and emails, whose outcome the view notes; the booking's
end. Shared by the workflow, its refund book and its changes."""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.enums import BookingStatus, DocumentKind, EmailKind, RecordOutcome
    from messages.booking import BookingView, Refund, Reservation, closing_email
    from messages.payments import PaymentIntentInfo
    from messages.session_changes import SessionMove
    from workflows import visibility
    from workflows.mailbox import Mailbox
    from workflows.options import MOVED_SESSION_STATE
    from workflows.steps import BookingSteps


class BookingState:
    """The booking's view and its places, both None until its places are held."""

    def __init__(self, steps: BookingSteps, mailbox: Mailbox) -> None:
        self._steps = steps
        self.mailbox = mailbox
        self.view: BookingView | None = None
        self.reservation: Reservation | None = None
        # How often the booking moved to another session (`booking_move`).
        self.moves = 0
        # The last change of the session's time or place applied to `reservation` (0: none),
        # and until when it lets a customer's cancel be refunded in full (`move_session`): the
        # session's, left behind by a move (`moved_to`).
        self.session_change = 0
        self.refund_in_full_until: datetime | None = None

    @property
    def booking(self) -> BookingView:
        assert self.view is not None, "the booking has no places yet"
        return self.view

    @property
    def status(self) -> BookingStatus | None:
        return self.view.status if self.view else None

    @property
    def payment_intent_id(self) -> str:
        assert self.booking.payment_intent_id is not None
        return self.booking.payment_intent_id

    @property
    def places(self) -> Reservation:
        assert self.reservation is not None, "the booking has no places yet"
        return self.reservation

    def moved_to(self, to: Reservation, moves: int) -> None:
        """The booking in `to`'s session after its `moves`-th move. The change applied and its
        window were the session's it left: its new session's changes are numbered from 1, and
        a window is given to the bookings a change found in the session (workflows that moved
        before `MOVED_SESSION_STATE` kept both)."""
        self.reservation, self.moves = to, moves
        if workflow.patched(MOVED_SESSION_STATE):
            self.session_change, self.refund_in_full_until = to.session_change, None

    def move_session(self, move: SessionMove) -> bool:
        """The session's times as its change `move` left them; False, nothing changed, for a
        change older than one applied already (changes may arrive out of order) or for one of
        a session the booking has left (told before the booking moved)."""
        if move.session_id is not None and move.session_id != self.places.session_id:
            return False
        if move.sequence <= self.session_change:
            return False
        self.reservation = replace(
            self.places, session_starts_at=move.starts_at, session_ends_at=move.ends_at
        )
        self.session_change = move.sequence
        self.refund_in_full_until = move.refund_in_full_until
        return True

    def moved_since_now(self) -> Callable[[], bool]:
        """Whether the session's time has changed since this was asked."""
        change = self.session_change
        return lambda: self.session_change != change

    def refunds_in_full(self, accepted_at: datetime) -> bool:
        """Whether a cancel accepted at `accepted_at` is within the accept-or-refund window of
        the session's last change: refunded in full whatever the policy."""
        until = self.refund_in_full_until
        return until is not None and accepted_at < until

    def revise(self, **changes: Any) -> None:
        """Change what the workflow knows, nothing recorded (the step that did it recorded it)."""
        self.view = replace(self.booking, **changes)

    def show(self, view: BookingView) -> None:
        """The view callers and operators see, once the database holds it."""
        self.view = view
        visibility.publish(view)

    async def record(self, view: BookingView) -> None:
        """Mirror to the database first, so whoever reads the new view can find it there too."""
        await self._steps.record(view)
        self.show(view)

    async def issue_document(
        self,
        kind: DocumentKind,
        intent: PaymentIntentInfo | None,
        refund: Refund | None = None,
        move_number: int | None = None,
    ) -> None:
        """`move_number`: the receipt of that move's difference."""
        document = await self._steps.issue_document(kind, intent, refund, move_number)
        if document is not None:
            self.revise(documents=[*self.booking.documents, document.number])

    async def send_email(
        self,
        kind: EmailKind,
        refund_amount: int | None = None,
        refund_sequence: int | None = None,
        moved_from: str | None = None,
    ) -> None:
        """`moved_from`: the session the booking's last move left (its MOVED email)."""
        sent = await self._steps.send_email(
            kind,
            refund_amount,
            refund_sequence,
            moved_from=moved_from,
            move_number=self.moves or None,
        )
        if not sent:
            self.revise(emails_refused=[*self.booking.emails_refused, kind])

    async def close(
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
        view = replace(self.booking, status=status, status_reason=reason)
        recorded = await self._steps.record(view, unless_session_cancelled=unless_session_cancelled)
        if recorded == RecordOutcome.SESSION_CANCELLED:
            return False
        self.show(view)
        refunds = self.booking.refunds
        last = refunds[-1].sequence if refunded and refunds else None
        await self.send_email(closing_email(status, self.mailbox.cancel), refunded, last)
        return True


def held(
    booking_id: str, reservation: Reservation, intent: PaymentIntentInfo | None
) -> BookingView:
    """The booking holding its places, waiting for the payment of `intent` if any."""
    return BookingView(
        id=booking_id,
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
