"""PostgreSQL tables. A place is a row of `seats`, so the database itself forbids overselling.

Over 350 lines: every table with its constraints, in one declarative module, because the
constraints read together (a booking's places, refunds, receipts and webhooks point at each
other) and Alembic (migrations/env.py) reads this one metadata.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core import booking_rules
from core.customer_hash import normalise_email
from core.enums import (
    DocumentKind,
    NotificationStatus,
    RefundSource,
    Role,
    SeatState,
    SessionKind,
    SessionStatus,
    VatTreatment,
    WaitingEntryState,
    WaitingListStatus,
    WebhookDeliveryStatus,
    WebhookEventType,
    sql_in,
)


class Base(DeclarativeBase):
    pass


def _normalised_email(context: DefaultExecutionContext) -> str:
    return normalise_email(context.get_current_parameters()["customer_email"])


class Organisation(Base):
    """An organiser (a tenant): it owns sessions, their bookings and its API keys."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("vat_rate_basis_points BETWEEN 0 AND 10000", name="vat_rate_bounded"),
        CheckConstraint("default_currency ~ '^[A-Z]{3}$'", name="default_currency_iso"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_iso"),
        CheckConstraint(
            "platform_fee_basis_points BETWEEN 0 AND 10000", name="platform_fee_rate_bounded"
        ),
        CheckConstraint("platform_fee_fixed >= 0", name="platform_fee_fixed_not_negative"),
        CheckConstraint("(logo IS NULL) = (logo_content_type IS NULL)", name="logo_has_type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    # The seller profile (migration 0013): what its receipts, credit notes and emails say.
    legal_name: Mapped[str] = mapped_column(Text)
    address_lines: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    tax_id: Mapped[str | None] = mapped_column(Text)  # its VAT number
    # The VAT rate its prices include unless a session says otherwise; NULL: not registered
    # for VAT, so its documents print no VAT line.
    vat_rate_basis_points: Mapped[int | None] = mapped_column(Integer)
    default_currency: Mapped[str] = mapped_column(String(3), server_default="GBP")
    locale: Mapped[str] = mapped_column(String(16), server_default="en_GB")
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    email_sender_name: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(Text)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_content_type: Mapped[str | None] = mapped_column(String(32))
    footer: Mapped[str | None] = mapped_column(Text)
    # Its numbers: `{prefix}-{year}-{seq}`, one gapless sequence per prefix and year. No prefix
    # is used twice across organisations (store.organisations checks the three together).
    reference_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    receipt_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    credit_note_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # Stripe Connect: its payments are made on this connected account (`Stripe-Account`),
    # with this platform fee; NULL: on the platform's own account.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    platform_fee_basis_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    platform_fee_fixed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    profile_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An organisation's API key: only its lookup prefix and its keyed hash are stored."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="role_known"),
        CheckConstraint("rate_limit_per_minute > 0", name="rate_limit_positive"),
        Index("ix_api_keys_organisation", "organisation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Session(Base):
    """Something that happens at a time and sells places: a course session, an event, a slot."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(sql_in("kind", SessionKind), name="kind_known"),
        CheckConstraint(sql_in("status", SessionStatus), name="status_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("hold_seconds BETWEEN 1 AND 86400", name="hold_bounded"),
        CheckConstraint("discount_basis_points BETWEEN 0 AND 10000", name="discount_bounded"),
        CheckConstraint(sql_in("vat_treatment", VatTreatment), name="vat_treatment_known"),
        CheckConstraint(
            "(vat_treatment = 'rate') = (vat_rate_basis_points IS NOT NULL)"
            " AND coalesce(vat_rate_basis_points, 0) BETWEEN 0 AND 10000",
            name="vat_rate_only_with_rate",
        ),
        CheckConstraint(
            sql_in("waiting_list_status", WaitingListStatus), name="waiting_list_known"
        ),
        CheckConstraint("offer_seconds BETWEEN 1 AND 604800", name="offer_bounded"),
        CheckConstraint("move_cutoff_hours BETWEEN 0 AND 8760", name="move_cutoff_bounded"),
        Index("ix_sessions_starts_at", "starts_at"),
        Index("ix_sessions_organisation_starts_at", "organisation_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # The IANA zone where it happens (Europe/London): documents print its times as local time.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    hold_seconds: Mapped[int] = mapped_column(Integer, default=600)
    discount_min_quantity: Mapped[int] = mapped_column(Integer, default=5)
    discount_basis_points: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED)
    # When the organiser's cancellation stopped sales (migration 0011).
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # [{"days_before": 14, "percent": 100}, ...] (core.refund_policy); NULL: the default policy.
    refund_policy: Mapped[list[dict[str, int]] | None] = mapped_column(JSONB)
    # The VAT its price includes: the organisation's rate, a rate of its own, or none
    # (core.vat.applicable_vat_rate).
    vat_treatment: Mapped[str] = mapped_column(
        String(16), default=VatTreatment.ORGANISATION, server_default=VatTreatment.ORGANISATION
    )
    vat_rate_basis_points: Mapped[int | None] = mapped_column(Integer)
    # Its waiting list (migration 0014): open, paused or closed by its organiser, and how long
    # an offer stands (capped by the start: `core.waiting_list.offer_deadline`).
    waiting_list_status: Mapped[str] = mapped_column(
        String(8), default=WaitingListStatus.OPEN, server_default=WaitingListStatus.OPEN
    )
    offer_seconds: Mapped[int] = mapped_column(Integer, default=43200, server_default="43200")
    # What a booking asks (migration 0018): core.questions.Question and Consent as JSON, the
    # current set; each consent's every version is kept in `session_consent_versions`.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    consents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    # The latest a booking may move away: this many hours before the start (migration 0020);
    # NULL: until the start.
    move_cutoff_hours: Mapped[int | None] = mapped_column(Integer)
    # Its attendees who attended get a certificate of attendance (migration 0019).
    certifying: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How many times its time or place changed (migration 0021): the SEQUENCE of its calendar
    # files (`SessionChange`).
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SessionConsentVersion(Base):
    """Each text a session's consent has had: what an acceptance of (key, version) agreed to."""

    __tablename__ = "session_consent_versions"
    __table_args__ = (CheckConstraint("version > 0", name="consent_version_positive"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Seat(Base):
    """One place. `booking_id` is set exactly while the place is held or sold, and
    `waiting_entry_id` exactly while it is held for a waiting-list offer (OFFERED)."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("session_id", "label", name="seat_label_unique"),
        CheckConstraint(sql_in("state", SeatState), name="state_known"),
        CheckConstraint(
            "(state IN ('held', 'sold')) = (booking_id IS NOT NULL)", name="owner_iff_taken"
        ),
        CheckConstraint(
            "(state = 'offered') = (waiting_entry_id IS NOT NULL)", name="offered_iff_entry"
        ),
        Index("ix_seats_session_state", "session_id", "state", "position"),
        Index("ix_seats_booking", "booking_id"),
        Index("ix_seats_waiting_entry", "waiting_entry_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8), default=SeatState.FREE)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), nullable=True)
    waiting_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("waiting_list_entries.id"), nullable=True
    )


class WaitingListEntry(Base):
    """One customer or group on a session's waiting list (its organisation: the session's).

    `position` is the join order (one sequence for all sessions: only the order within a
    session means anything). While OFFERED, the places `offer_seat_labels` are held for it
    (seats in state OFFERED naming it) until `offer_expires_at`; the accept token is stored
    hashed (`offer_token_hash`), as API keys are.
    """

    __tablename__ = "waiting_list_entries"
    __table_args__ = (
        CheckConstraint(sql_in("state", WaitingEntryState), name="waiting_entry_state_known"),
        CheckConstraint("quantity > 0", name="waiting_quantity_positive"),
        CheckConstraint("skipped_count >= 0", name="skipped_not_negative"),
        CheckConstraint(
            "(state = 'offered') = (offer_expires_at IS NOT NULL AND offer_token_hash IS NOT NULL)",
            name="offer_iff_offered",
        ),
        Index("ix_waiting_list_session_position", "session_id", "position"),
        Index("ix_waiting_list_customer_email_normalised", "customer_email_normalised"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    position: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    customer_name: Mapped[str] = mapped_column(Text)
    customer_email: Mapped[str] = mapped_column(Text)
    customer_email_normalised: Mapped[str] = mapped_column(Text, default=_normalised_email)
    quantity: Mapped[int] = mapped_column(Integer)
    seat_labels: Mapped[list[str]] = mapped_column(JSONB, default=list)  # named seats asked for
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    state: Mapped[str] = mapped_column(String(16), default=WaitingEntryState.WAITING)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    offers_made: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    offer_seat_labels: Mapped[list[str]] = mapped_column(JSONB, default=list)
    offer_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How often the open offer's deadline was capped at an earlier start (migration 0025): each
    # cap is told in an email of its own, keyed by it.
    offer_caps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    offer_token_hash: Mapped[str | None] = mapped_column(String(64))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(UUID)  # the booking its accept started
    # The state its customer was last emailed about (offered, expired, closed): each once.
    told_state: Mapped[str | None] = mapped_column(String(16))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Booking(Base):
    """The database mirror of one booking workflow, written at each transition."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_total = amount_subtotal - discount", name="amounts_add_up"),
        CheckConstraint("amount_total >= 0 AND discount >= 0", name="amounts_not_negative"),
        # The list's order, (created_at, id), whole and within a session or a status.
        Index("ix_bookings_created", "created_at", "id"),
        Index("ix_bookings_session_created", "session_id", "created_at", "id"),
        Index("ix_bookings_status_created", "status", "created_at", "id"),
        Index("ix_bookings_updated", "updated_at"),
        Index("ix_bookings_customer_email", "customer_email"),
        Index("ix_bookings_customer_email_normalised", "customer_email_normalised"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    customer_name: Mapped[str] = mapped_column(Text)
    customer_email: Mapped[str] = mapped_column(Text)
    # How export, erasure, the list filter and the customer hash match the customer: written
    # with the row from `customer_email` (core.customer_hash.normalise_email), never by hand.
    customer_email_normalised: Mapped[str] = mapped_column(Text, default=_normalised_email)
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    quantity: Mapped[int] = mapped_column(Integer)
    # Kept after the places are released, so an expired booking still says what it held.
    seat_labels: Mapped[list[str]] = mapped_column(JSONB, default=list)
    amount_subtotal: Mapped[int] = mapped_column(Integer)
    discount: Mapped[int] = mapped_column(Integer)
    amount_total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    status_reason: Mapped[str | None] = mapped_column(Text)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    hold_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by a trigger on every update that changes the row (migration 0008), never by hand.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the first transition that ends the booking was recorded; never moved after.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What was paid, from the confirmation on (0 before), kept once cancelled places re-price
    # amount_total (migration 0009); read it as `paid`.
    amount_paid: Mapped[int | None] = mapped_column(Integer, server_default="0")
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The Stripe account its PaymentIntent lives in (the organisation's connected account when
    # it was created; NULL: the platform's), and the platform fee taken on it: refunds and
    # reads of this payment go to that account whatever the organisation uses later.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), index=True)  # 0024
    application_fee_amount: Mapped[int | None] = mapped_column(Integer)
    # Its places when it was confirmed: ticket i admits place i of these while the booking still
    # holds it (migration 0016; store.tickets.admitted_indices).
    ticket_seat_labels: Mapped[list[str] | None] = mapped_column(JSONB)
    # The answers to the session's questions, each with its question as it was, and the
    # consents accepted with their versions and times (core.questions; migration 0018).
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    consents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    # How often it moved to another session (migration 0020): its calendar event's UID.
    moves: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The booking whose places and money a partial move split this one from (migration 0023).
    split_from: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)

    @property
    def paid(self) -> int:
        """What the customer paid: 0 before the confirmation, and on a row not yet flushed."""
        return self.amount_paid or 0

    @property
    def remaining(self) -> int:
        """What remains paid at Stripe."""
        return booking_rules.remaining(self.paid, self.amount_refunded)


class SessionChange(Base):
    """One change of a session's time or place (its `sequence`-th), as its bookings are told:
    what it was and became (`changes`: field -> [before, after]), the session's values after
    it, and until when its bookings may cancel with a full refund (None: no such window)."""

    __tablename__ = "session_changes"
    __table_args__ = (
        UniqueConstraint("session_id", "sequence", name="session_change_once"),
        CheckConstraint("sequence > 0", name="session_change_sequence_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    title: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    refund_in_full_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CheckIn(Base):
    """One attendee (the `attendee_index`-th place of a booking) let in at the door of a session:
    one row per place and session, so concurrent scanners and retried scans of one ticket record
    one check-in, and a booking that moved is checked in at each session it was in (the earlier
    ones' rows are history; migration 0027)."""

    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint(
            "booking_id", "session_id", "attendee_index", name="one_check_in_per_session_place"
        ),
        CheckConstraint("attendee_index >= 0", name="attendee_index_not_negative"),
        Index("ix_check_ins_session", "session_id", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    attendee_index: Mapped[int] = mapped_column(Integer)
    # When the ticket was scanned: the scanner's clock for scans sent later (offline), else now.
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # The API key that checked the attendee in (NULL once that key is deleted).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )


class Attendance(Base):
    """Whether the `attendee_index`-th place of a booking attended its session: recorded once at
    the session's end (checked in: attended, else a no-show), then corrected by an organiser
    within the window (store.attendance)."""

    __tablename__ = "attendance"
    __table_args__ = (
        CheckConstraint("attendee_index >= 0", name="attendance_index_not_negative"),
        Index("ix_attendance_session", "session_id"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), primary_key=True)
    attendee_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    attended: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    corrections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The admin key of the last correction (NULL once that key is deleted).
    corrected_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )


class Certificate(Base):
    """A certificate of attendance of one place: numbered and rendered once, reissued (emailed
    again) with the same number, void while its place is corrected to a no-show."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("booking_id", "attendee_index", name="one_certificate_per_place"),
        UniqueConstraint("organisation_id", "number", name="certificate_number_unique"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    attendee_index: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64))
    attendee_name: Mapped[str] = mapped_column(Text)
    course_title: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    reissues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BookingRefund(Base):
    """One refund of a booking, ours or made at Stripe: the `sequence`-th, for `amount`."""

    __tablename__ = "booking_refunds"
    __table_args__ = (
        UniqueConstraint("booking_id", "sequence", name="refund_sequence_unique"),
        CheckConstraint("amount > 0", name="refund_positive"),
        CheckConstraint(sql_in("source", RefundSource), name="refund_source_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    refunded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Who or what made it (RefundSource); rows written without one were read back from Stripe.
    source: Mapped[str] = mapped_column(String(32), server_default=RefundSource.STRIPE.value)


class ReferenceCounter(Base):
    """Per-organisation, per-year gapless sequences: booking references, receipt and credit
    note numbers."""

    __tablename__ = "reference_counters"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class StripeEvent(Base):
    """Every verified webhook delivery we acknowledged, first delivery wins."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class BookingPayment(Base):
    """A booking's claim on one PaymentIntent (migrations 0022, 0023): its own (`move_number`
    NULL) or the difference of a move to a dearer session, paid (the move settled) or
    abandoned; `amount` what the booking claims of it. A partial move hands part of a claim
    to the booking it splits off (`transferred_from`): the claims on a paid intent add up to
    what Stripe received."""

    __tablename__ = "booking_payments"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="booking_payment_not_negative"),
        # Of the claims a booking opened: one handed over is another's.
        Index(
            "one_payment_per_move",
            "booking_id",
            "move_number",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where=text("transferred_from IS NULL"),
        ),
    )

    payment_intent_id: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id"), primary_key=True, index=True
    )
    move_number: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transferred_from: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))


class Receipt(Base):
    """A receipt or credit note: numbered and rendered once, then served as stored.

    One receipt per booking and one per dearer move's difference (`move_number`); one credit
    note per refund (`refund_sequence`, NULL for the full
    credit notes issued before partial refunds).
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint(
            "booking_id",
            "kind",
            "refund_sequence",
            "move_number",
            name="one_document_per_refund",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(sql_in("kind", DocumentKind), name="receipt_kind_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    refers_to: Mapped[str | None] = mapped_column(String(64))
    refund_sequence: Mapped[int | None] = mapped_column(Integer)
    # The receipt of a move's difference (migration 0022); NULL: the booking's own.
    move_number: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    # The seller as printed when issued (documents.receipt_data.Seller); NULL before 0013.
    seller: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Notification(Base):
    """One email per (booking, kind): intent recorded before sending, outcome after."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(sql_in("status", NotificationStatus), name="notification_status"),
    )

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    """Where an organisation wants its events: the signing secret is stored encrypted."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_organisation", "organisation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSONB)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Whether its events carry bookings' answers and consents (personal data): opted in.
    include_answers: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEvent(Base):
    """The outbox: one event, written in the transaction that made the change it reports.

    `stream_id` is what the event is about (a booking, a session, or the ping itself); events of
    one stream are numbered 1, 2, ... in the order they happened and delivered in that order.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(sql_in("type", WebhookEventType), name="webhook_event_type_known"),
        UniqueConstraint("stream_id", "sequence", name="webhook_event_sequence_unique"),
        UniqueConstraint("stream_id", "dedup_key", name="webhook_event_once"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    stream_id: Mapped[uuid.UUID] = mapped_column(UUID)
    sequence: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one endpoint: pending until delivered, or failed for good."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="one_delivery_per_endpoint"),
        CheckConstraint(sql_in("status", WebhookDeliveryStatus), name="webhook_delivery_status"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default=WebhookDeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """One HTTP request of a delivery and how the receiver answered (or why it did not)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
