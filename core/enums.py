"""Fixed sets of values, shared by the tables, the workflows, the activities and the API.

Their values are stored in PostgreSQL and recorded in workflow histories: renaming a member
is free, changing a value needs a migration and a replay test.
"""

from enum import StrEnum


class BookingStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"


# A booking in one of these can still be cancelled, paid or refunded.
OPEN_STATUSES = frozenset({BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED})


class RecordOutcome(StrEnum):
    """How mirroring a transition ended: recorded, or refused because the session's
    cancellation committed first (a customer's close then yields to it: `Transition`)."""

    RECORDED = "recorded"
    SESSION_CANCELLED = "session-cancelled"


class SessionKind(StrEnum):
    COURSE = "course"
    SEATED = "seated"
    APPOINTMENT = "appointment"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class VatTreatment(StrEnum):
    """The VAT a session's price includes (core.vat.applicable_vat_rate)."""

    ORGANISATION = "organisation"  # the organisation's rate, or none if it is not registered
    RATE = "rate"  # a rate of the session's own (0 %, a reduced rate)
    NONE = "none"  # no VAT: the documents print no VAT line


class SeatState(StrEnum):
    FREE = "free"
    HELD = "held"
    SOLD = "sold"
    # Held for a waiting-list offer (`seats.waiting_entry_id`): neither free nor sold.
    OFFERED = "offered"


class WaitingEntryState(StrEnum):
    """Where one waiting-list entry stands (`waiting_list_entries.state`)."""

    WAITING = "waiting"
    OFFERED = "offered"  # places are held for it until `offer_expires_at`
    ACCEPTED = "accepted"  # its booking took the offered places over
    DECLINED = "declined"
    EXPIRED = "expired"  # the offer's deadline passed unanswered
    LEFT = "left"  # the customer left the list
    CLOSED = "closed"  # the list ended (session cancelled, started, or closed by its organiser)


# An entry in one of these still waits for, or holds, places.
LIVE_ENTRY_STATES = frozenset({WaitingEntryState.WAITING, WaitingEntryState.OFFERED})


class WaitingListStatus(StrEnum):
    """A session's waiting list, as its organiser set it (`sessions.waiting_list_status`)."""

    OPEN = "open"
    PAUSED = "paused"  # joins refused, no new offers; open offers run on
    CLOSED = "closed"  # joins refused, offers withdrawn, entries closed


class DocumentKind(StrEnum):
    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"


class EmailKind(StrEnum):
    CONFIRMATION = "confirmation"
    HOLD_EXPIRED = "hold_expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    LATE_PAYMENT_REFUNDED = "late_payment_refunded"
    REMINDER = "reminder"
    SESSION_CANCELLED = "session_cancelled"
    PARTLY_REFUNDED = "partly_refunded"  # one per partial refund (refund_sequence)
    MOVED = "moved"  # one per move (move_number)
    CERTIFICATE = "certificate"  # one per certificate of attendance, and per reissue
    SESSION_CHANGED = "session_changed"  # one per change of its session (change_sequence)


# The emails that may be sent more than once to a booking, their keys carrying a number
# (`activities.notifications.notification_key`): one per refund, per change of the session, per
# move (its email, and the reminder of the session moved to), per certificate and reissue.
NUMBERED_EMAILS = frozenset(
    {
        EmailKind.PARTLY_REFUNDED,
        EmailKind.SESSION_CHANGED,
        EmailKind.MOVED,
        EmailKind.REMINDER,
        EmailKind.CERTIFICATE,
    }
)


class RefundSource(StrEnum):
    """Who or what made a refund of a booking: the money ledger's column `source`."""

    CUSTOMER_POLICY = "customer-policy"  # the customer's cancel, by the session's policy
    ADMIN = "admin"  # an organiser's refund of an amount
    PLACES = "places"  # some places given back
    MOVE = "move"  # moved to a cheaper session: the difference, by the source's policy
    SESSION_CANCELLED = "session-cancelled"  # the organiser cancelled the session: in full
    LATE_PAYMENT = "late-payment"  # paid after the booking ended
    AMOUNT_MISMATCH = "amount-mismatch"  # paid another amount or currency than the booking's
    NOT_CONFIRMABLE = "not-confirmable"  # paid, but the places or the session were gone
    SAFETY_NET = "safety-net"  # paid for a booking whose workflow was gone
    STRIPE = "stripe"  # made at Stripe (its dashboard, a dispute), read back


class NotificationStatus(StrEnum):
    """Where one email stands in the `notifications` ledger."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class DeliveryOutcome(StrEnum):
    """What one `send_email` activity did."""

    SENT = "sent"
    ALREADY_SENT = "already-sent"  # an earlier attempt got through
    REFUSED = "refused"  # SendGrid said no for good; not retried


class QuestionType(StrEnum):
    """What kind of answer a session's booking question takes (`core.questions`)."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"


class QuestionScope(StrEnum):
    """Whom a question asks: the booking once, or each of its places (an attendee)."""

    BOOKING = "booking"
    ATTENDEE = "attendee"


class WebhookEventType(StrEnum):
    """What an organisation's webhook endpoints can subscribe to (`ping` is only ever sent)."""

    BOOKING_CREATED = "booking.created"
    BOOKING_CONFIRMED = "booking.confirmed"
    BOOKING_EXPIRED = "booking.expired"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_REFUNDED = "booking.refunded"
    SESSION_CANCELLED = "session.cancelled"
    ATTENDEE_CHECKED_IN = "attendee.checked_in"
    BOOKING_MOVED = "booking.moved"
    ATTENDEE_NO_SHOW = "attendee.no_show"
    SESSION_UPDATED = "session.updated"
    BOOKING_UPDATED = "booking.updated"  # its session's time or place changed
    WAITLIST_JOINED = "waitlist.joined"
    WAITLIST_OFFERED = "waitlist.offered"
    WAITLIST_ACCEPTED = "waitlist.accepted"
    WAITLIST_EXPIRED = "waitlist.expired"
    WAITLIST_LEFT = "waitlist.left"
    PING = "ping"


class WebhookDeliveryStatus(StrEnum):
    """Where one event's delivery to one endpoint stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # a 4xx, or retried for the whole window: redeliver by hand


class Role(StrEnum):
    CLIENT = "client"
    ADMIN = "admin"
    # Door staff: check attendees in and read the door list of their organisation's sessions.
    DOOR = "door"


class CheckInOutcome(StrEnum):
    """What a scan of a valid ticket did: the first scan checks in, later ones find it done."""

    CHECKED_IN = "checked_in"
    ALREADY_CHECKED_IN = "already_checked_in"


class TicketRefusal(StrEnum):
    """Why a scanned code admits nobody (the `reason` of a ticket-refused problem)."""

    INVALID = "invalid"  # not signed by us: forged, truncated, altered, or a retired key's
    OTHER_SESSION = "other_session"  # a genuine ticket, of another session or organisation
    BOOKING_NOT_CONFIRMED = "booking_not_confirmed"  # cancelled, refunded, expired, unpaid
    PLACE_CANCELLED = "place_cancelled"  # the booking gave this place back
    BOOKING_MOVED = "booking_moved"  # a ticket of the session its booking has moved from


class TracingExporter(StrEnum):
    """Where OpenTelemetry spans go (BOOKING_TRACING)."""

    OFF = "off"
    OTLP = "otlp"
    CONSOLE = "console"


def sql_in(column: str, values: type[StrEnum]) -> str:
    """A CHECK constraint's condition that the column holds one of the enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"
