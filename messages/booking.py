"""Data passed between the API, the booking workflow and its activities: plain values only."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from core.enums import BookingStatus, DeliveryOutcome, DocumentKind, EmailKind, RefundSource
from core.questions import Answer, ConsentAccepted
from core.refund_policy import DEFAULT_POLICY, RefundTier
from messages.payments import PaymentIntentInfo

MAX_PLACES_PER_BOOKING = 50


def booking_workflow_id(booking_id: str) -> str:
    """One booking, one workflow: its id is derived from the booking's."""
    return f"booking-{booking_id}"


# Every cancel sent to a booking workflow carries this update id: Temporal answers a repeated
# one with the first one's outcome (even after the workflow has closed) instead of refusing it.
CANCEL_UPDATE_ID = "cancel"
# The session's cancellation has its own: it must reach a booking the customer is cancelling
# too (it outranks the customer's cancel: a full refund), not be answered with that outcome.
SESSION_CANCEL_UPDATE_ID = "session-cancel"
# The booking workflow's query of how many cancels it gave up (Stripe did not answer within the
# refund's bound: nothing moved, the booking stays CONFIRMED).
CANCELS_GIVEN_UP_QUERY = "cancels_given_up"


def cancel_update_id(session_cancelled: bool, given_up: int) -> str:
    """The update id of a cancel: the same for every caller while one is pending or answered,
    a new one once a cancel was given up, so that asking again is carried out, not answered
    with the refusal Temporal keeps under the old id."""
    base = SESSION_CANCEL_UPDATE_ID if session_cancelled else CANCEL_UPDATE_ID
    return base if given_up == 0 else f"{base}-{given_up + 1}"


async def next_cancel_update_id(handle: WorkflowHandle[Any, Any], session_cancelled: bool) -> str:
    """`cancel_update_id` for the booking workflow of `handle`, asked of the workflow itself; a
    workflow that cannot answer (closed, unknown) takes the first id and refuses the cancel."""
    try:
        given_up = await handle.query(CANCELS_GIVEN_UP_QUERY, result_type=int)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        given_up = 0
    return cancel_update_id(session_cancelled, given_up)


@dataclass
class AttendeeCheckedIn:
    """The booking's `attendee_index`-th place let in at the door (the `check_ins` row is written
    first; the API tells the workflow at every scan of the ticket, the workflow keeps the first)."""

    attendee_index: int
    checked_in_at: datetime
    # Where (a booking that moved is checked in at each session it was in; None: sent before
    # check-ins named their session, at the booking's session then).
    session_id: str | None = None


@dataclass
class Attendee:
    name: str
    email: str | None = None
    special_requirements: str | None = None


@dataclass
class BookingRequest:
    """The booking workflow's input: what the caller asked for, validated by the API."""

    booking_id: str
    session_id: str
    customer_name: str
    customer_email: str
    quantity: int
    seat_labels: list[str] = field(default_factory=list)
    attendees: list[Attendee] = field(default_factory=list)
    # Hash of the request body, so a reused Idempotency-Key with another body is refused.
    request_fingerprint: str = ""
    # The waiting-list entry whose offer this booking accepts: its reservation takes over the
    # places held for the offer (`seat_labels`) instead of free ones.
    waiting_entry_id: str | None = None
    # Answers to the session's questions and its consents accepted, checked by the API against
    # the session's set when the request came (personal data: the payload codec encrypts it).
    answers: list[Answer] = field(default_factory=list)
    consents: list[ConsentAccepted] = field(default_factory=list)


@dataclass
class Timings:
    """Durations the workflow reads from its input, so tests can shorten them.

    Each field is named as the setting it comes from (`clients.booking_workflows.timings`).
    """

    hold_extension_seconds: int
    max_hold_extensions: int
    late_payment_window_seconds: int
    # Defaults for callers that leave them out; the API sets every field from its settings.
    reminder_before_seconds: int = 0
    payment_grace_seconds: int = 10


@dataclass
class BookingWorkflowInput:
    request: BookingRequest
    timings: Timings
    # A booking split off by a partial move (`SplitOff`): it starts CONFIRMED.
    split: "SplitOff | None" = None


@dataclass
class CancelRequest:
    reason: str = "cancelled by the customer"
    # The organiser cancelled the whole session: refunded in full, and that email instead.
    session_cancelled: bool = False


@dataclass
class Reservation:
    """Places held for one booking, with the price fixed at the moment of holding."""

    booking_id: str
    session_id: str
    seat_labels: list[str]
    unit_amount: int
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    session_starts_at: datetime
    session_ends_at: datetime
    request_fingerprint: str
    # The session's policy when the places were held; reservations recorded before policies
    # existed refund in full until the start, as those bookings were sold.
    refund_policy: list[RefundTier] = field(default_factory=lambda: list(DEFAULT_POLICY))
    # The session's last change (its `calendar_sequence`) the times above reflect: a place held
    # by a move (0 for other holds and reservations recorded before).
    session_change: int = 0


@dataclass
class Transition:
    """One change of the booking's status, mirrored into the database."""

    booking_id: str
    status: BookingStatus
    status_reason: str | None = None
    payment_intent_id: str | None = None
    hold_expires_at: datetime | None = None
    # What the customer paid, once known (a payment that could not be confirmed is refunded).
    amount_paid: int | None = None
    # A customer's cancel closing by its policy: not recorded if the session was cancelled
    # first (its cancellation outranks the policy: the booking is refunded in full instead).
    # Checked under the session row's lock, which `stop_sales` takes to cancel it.
    unless_session_cancelled: bool = False
    # With `payment_intent_id`, from `open_payment` only: the connected account it was made in
    # and the platform's fee on it (None: not written; the platform's own account, no fee).
    stripe_account_id: str | None = None
    application_fee_amount: int | None = None


@dataclass
class Confirmation:
    booking_id: str
    reference: str
    confirmed_at: datetime


@dataclass
class BookingView:
    """What the workflow says about itself: returned by its query and its updates."""

    id: str
    status: BookingStatus
    session_id: str
    seat_labels: list[str]
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    payment_intent_id: str | None = None
    client_secret: str | None = None
    reference: str | None = None
    status_reason: str | None = None
    confirmed_at: datetime | None = None
    refund_ids: list[str] = field(default_factory=list)
    payment_failures: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    emails_refused: list[str] = field(default_factory=list)
    # What the customer paid (set when confirmed) and each refund since (partial refunds).
    amount_paid: int = 0
    refunds: list["Refund"] = field(default_factory=list)
    # A move to a dearer session waiting for its difference to be paid (None: none).
    move_payment: "MovePayment | None" = None
    # Partial moves: the booking whose places and money this one was split from, and the
    # bookings split from this one (`BookingMove`), oldest first.
    split_from: str | None = None
    split_into: list[str] = field(default_factory=list)

    @property
    def amount_refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)


@dataclass
class MovePayment:
    """The difference a move to a dearer session asks, on a PaymentIntent of its own, to be paid
    before `expires_at` (else the move is abandoned and the booking stays as it is)."""

    payment_intent_id: str
    client_secret: str
    amount: int
    session_id: str
    move_number: int
    expires_at: datetime


@dataclass
class OpenMovePayment:
    """Create the PaymentIntent of a move's difference, in the booking's Stripe account."""

    booking_id: str
    move_number: int
    session_id: str
    amount: int
    currency: str


@dataclass
class Refund:
    """One refund of a paid booking: ours (by policy, by an admin) or made at Stripe."""

    sequence: int  # 1, 2, ... in the booking's order; part of the Stripe idempotency key
    amount: int
    reason: str
    stripe_refund_id: str
    refunded_at: datetime
    source: RefundSource = RefundSource.STRIPE
    # The intent refunded, when the booking has several (None: the booking's own).
    payment_intent_id: str | None = None


@dataclass
class RecordRefund:
    """A refund to write into `booking_refunds` (the `record_refund` activity)."""

    booking_id: str
    currency: str
    refund: Refund


@dataclass
class RefundOrder:
    """An admin's refund of `amount` (minor units) of what remains paid."""

    amount: int
    reason: str = "refunded by the organiser"


@dataclass
class PlacesCancellation:
    """Cancel some places of a confirmed booking: these labels, or the last `count` of them."""

    seat_labels: list[str] = field(default_factory=list)
    count: int = 0
    reason: str = "places cancelled by the customer"

    def labels_of(self, held: list[str]) -> list[str]:
        # A count of every place or more names them all (refused: cancel the booking instead).
        return named_places(self.seat_labels, self.count, held)


def named_places(seat_labels: list[str], count: int, held: list[str]) -> list[str]:
    """The places an order names among those `held`: its labels, or the last `count`."""
    if seat_labels:
        return list(seat_labels)
    return held[max(len(held) - count, 0) :]


@dataclass
class MoveOrder:
    """Move the places of a confirmed booking to another session of its organisation: every
    one, or some (`seat_labels`, or the last `count`): a partial move, which splits them off
    into a booking of their own (`SettleSplit`)."""

    session_id: str
    reason: str = "moved by the customer"
    seat_labels: list[str] = field(default_factory=list)
    count: int = 0

    def labels_of(self, held: list[str]) -> list[str]:
        """The places that move: every one unless some are named (a count of every place or
        more names them all: a whole move)."""
        if not self.seat_labels and not self.count:
            return list(held)
        return named_places(self.seat_labels, self.count, held)


@dataclass
class HoldMove:
    """Hold `quantity` places of session `session_id` for the booking moving there."""

    booking_id: str
    session_id: str
    quantity: int
    # The intent of the difference, when a dearer move is given up (marked abandoned).
    payment_intent_id: str | None = None


@dataclass
class SettleMove:
    """The booking leaves `from_session_id` for the places `to` holds, sold at its price."""

    booking_id: str
    from_session_id: str
    to: Reservation
    # The difference paid for a dearer target, and its intent (added to what the booking paid).
    paid: int = 0
    payment_intent_id: str | None = None


@dataclass
class Claim:
    """What a booking claims of one PaymentIntent (`booking_payments`): a split booking's money
    is claims handed over from the booking it was split from."""

    payment_intent_id: str
    amount: int


@dataclass
class SettleSplit:
    """Some places of booking `booking_id` (`moved`, in `from_session_id`) become booking
    `new_booking_id` in the places `to` holds (held under `booking_id`); the first keeps `kept`
    and hands over `handed` of its claims; `paid` on `payment_intent_id`: a dearer difference,
    the new booking's claim."""

    booking_id: str
    new_booking_id: str
    from_session_id: str
    to: Reservation
    moved: list[str]
    kept: "Repriced"
    handed: list[Claim]
    paid: int = 0
    payment_intent_id: str | None = None


@dataclass
class SplitSettled:
    """The booking split off: its request (customer, attendees and answers of the places
    moved), reference and confirmation time."""

    request: BookingRequest
    reference: str
    confirmed_at: datetime


@dataclass
class SplitOff:
    """How a booking split off by a partial move starts its workflow: CONFIRMED already, with
    its view, places, claims, the session its places left, and what the split refunded."""

    view: BookingView
    reservation: Reservation
    claims: list[Claim]
    moved_from: str
    refunded: int | None = None
    # A dearer target's difference, paid on an intent of its own: the booking's receipt.
    difference: PaymentIntentInfo | None = None


@dataclass
class Repriced:
    """A booking's places and amounts once some of its places were released."""

    seat_labels: list[str]
    amount_subtotal: int
    discount: int
    amount_total: int


@dataclass
class ReleaseSome:
    """Free `seat_labels` of a confirmed booking, which keeps `kept` (priced by the workflow)."""

    booking_id: str
    seat_labels: list[str]
    kept: Repriced


@dataclass
class IssueDocument:
    """Number and render the booking's receipt, or the credit note for its refund."""

    booking_id: str
    kind: DocumentKind
    card_brand: str | None = None
    card_last4: str | None = None
    # A credit note for one refund (None: the full credit note of older runs).
    refund: Refund | None = None
    # The receipt of the difference of the booking's `move_number`-th move.
    move_number: int | None = None


@dataclass
class DocumentRef:
    kind: DocumentKind
    number: str


@dataclass
class EmailRequest:
    booking_id: str
    kind: EmailKind  # at most one email per (booking, kind, refund_sequence or change_sequence)
    refund_amount: int | None = None
    refund_sequence: int | None = None
    # A move's email: the session left, and which move of the booking (1, 2, ...) it was.
    moved_from_session_id: str | None = None
    move_number: int | None = None
    # A certificate's email: of which place, and which reissue (0: the first email).
    attendee_index: int | None = None
    reissue: int = 0
    # The session's change a SESSION_CHANGED email tells (`SessionChange.sequence`), and that
    # session (None: the booking's; `activities.notifications.notification_key`).
    change_sequence: int | None = None
    change_session_id: str | None = None


@dataclass
class EmailOutcome:
    key: str
    status: DeliveryOutcome


def closing_email(status: BookingStatus, cancel: CancelRequest | None) -> EmailKind:
    """The email that tells the customer how their booking ended."""
    if cancel is not None and cancel.session_cancelled:
        return EmailKind.SESSION_CANCELLED
    return {
        BookingStatus.EXPIRED: EmailKind.HOLD_EXPIRED,
        BookingStatus.REFUNDED: EmailKind.REFUNDED,
    }.get(status, EmailKind.CANCELLED)
