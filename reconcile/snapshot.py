"""One consistent read of the database mirror: sessions, taken places, bookings, their claims
on PaymentIntents, refunds, documents, emails.

Eight queries in one REPEATABLE READ transaction, so every rule sees the same moment.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from core.enums import (
    BookingStatus,
    DocumentKind,
    NotificationStatus,
    SeatState,
    WaitingListStatus,
)
from models.tables import (
    Booking,
    BookingPayment,
    BookingRefund,
    Notification,
    Receipt,
    Seat,
    Session,
    WaitingListEntry,
)

# Money belongs to a booking in one of these; any other status must have given it back.
CLAIMING = frozenset({BookingStatus.CONFIRMED, BookingStatus.COMPLETED})


@dataclass(frozen=True)
class SessionRow:
    id: str
    capacity: int
    status: str
    seat_rows: int
    held: int
    sold: int
    # When its organiser's cancellation began; None if it was not (or before migration 0011).
    cancelled_at: datetime | None = None
    offered: int = 0  # places held for waiting-list offers (migration 0014)
    starts_at: datetime | None = None
    waiting_list_status: str = WaitingListStatus.OPEN


@dataclass(frozen=True)
class OfferedSeat:
    """A place held for a waiting-list offer, with its entry as the entry row tells it."""

    session_id: str
    label: str
    entry_id: str
    entry_state: str
    entry_labels: list[str]
    entry_updated_at: datetime
    offer_expires_at: datetime | None = None  # the entry's open offer's deadline


@dataclass(frozen=True)
class TakenSeat:
    session_id: str
    label: str
    state: SeatState
    booking_id: str


@dataclass(frozen=True)
class BookingRow:
    id: str
    session_id: str
    status: str
    quantity: int
    seat_labels: list[str]
    payment_intent_id: str | None
    amount_total: int
    currency: str
    reference: str | None
    # What was paid: amount_total unless places were cancelled and the booking re-priced.
    amount_paid: int
    amount_refunded: int  # the booking's own total of its refunds
    confirmed_at: datetime | None
    hold_expires_at: datetime
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    # The booking a partial move split this one from (its places and money came from there).
    split_from: str | None = None
    # Its claims (booking_payments, migration 0023): what it holds of each intent its money is
    # on. A split booking's payment_intent_id is None: its money is only claims.
    claims: tuple["Claim", ...] = ()
    # Every intent its dearer moves asked for, paid or not: its live workflow waits for these.
    move_intents: tuple[str, ...] = ()

    @property
    def claimed_intents(self) -> list[str]:
        return [claim.payment_intent_id for claim in self.claims]

    @property
    def claimed(self) -> int:
        """What its claims add up to: what it says was paid, once confirmed."""
        return sum(claim.amount for claim in self.claims)

    def at_rest(self, now: datetime, settle: timedelta) -> bool:
        """Neither created nor changed in the last `settle`: no transition is being written."""
        return max(self.created_at, self.updated_at) <= now - settle


@dataclass(frozen=True)
class Claim:
    """One booking's claim on one PaymentIntent: its own intent (whatever Stripe says of it),
    a dearer move's difference once the move settled, or a part handed over by the booking it
    was split from (`transferred_from`). Abandoned differences are no claim."""

    payment_intent_id: str
    booking_id: str
    amount: int
    transferred_from: str | None
    move_number: int | None  # a dearer move's difference: a receipt of its own
    # The claiming booking, which may be outside the snapshot's scope (a split's other half):
    status: str
    confirmed: bool  # it was confirmed once: what was not refunded is its to keep
    changed_at: datetime  # its row's last change (or creation)

    @property
    def opened(self) -> bool:
        """Its booking asked for this intent (the intent's metadata names it)."""
        return self.transferred_from is None

    @property
    def holds(self) -> bool:
        """Its booking holds this money now, or kept it by its refund policy."""
        return self.status in CLAIMING or self.confirmed


@dataclass(frozen=True)
class RecordedRefund:
    """One row of `booking_refunds`: a refund the booking knows of."""

    sequence: int
    stripe_refund_id: str
    amount: int


@dataclass(frozen=True)
class EmailCount:
    booking_id: str
    kind: str
    rows: int
    sending: int
    failed: int
    sending_since: datetime | None  # when the oldest row still `sending` was first tried


@dataclass
class Snapshot:
    now: datetime  # the database's clock when the snapshot was read
    sessions: dict[str, SessionRow] = field(default_factory=dict)
    taken: list[TakenSeat] = field(default_factory=list)  # held or sold by a booking
    offered: list[OfferedSeat] = field(default_factory=list)
    bookings: dict[str, BookingRow] = field(default_factory=dict)
    # booking id -> its recorded refunds
    refunds: dict[str, list[RecordedRefund]] = field(default_factory=dict)
    # (booking id, document kind) -> how many rows
    documents: dict[tuple[str, str], int] = field(default_factory=dict)
    # booking id -> the refund sequences its credit notes are for
    credit_notes: dict[str, set[int]] = field(default_factory=dict)
    emails: list[EmailCount] = field(default_factory=list)
    # PaymentIntent id -> every claim on it, of any booking (for the intents the bookings in
    # scope claim; all of them when unscoped)
    claims: dict[str, list[Claim]] = field(default_factory=dict)

    def claims_on(self, intent_id: str) -> list[Claim]:
        return self.claims.get(intent_id, [])

    def places_of(self, booking_id: str) -> list[TakenSeat]:
        return self._places_by_booking.get(booking_id, [])

    def refunds_of(self, booking_id: str) -> list[RecordedRefund]:
        return self.refunds.get(booking_id, [])

    @cached_property
    def _places_by_booking(self) -> dict[str, list[TakenSeat]]:
        index: dict[str, list[TakenSeat]] = {}
        for seat in self.taken:
            index.setdefault(seat.booking_id, []).append(seat)
        return index


async def load_snapshot(
    db: async_sessionmaker[AsyncSession],
    *,
    session_ids: Sequence[str] | None = None,
    place_holders_only: bool = False,
) -> Snapshot:
    """The mirror, restricted to `session_ids` when given; with `place_holders_only`, only the
    bookings that hold or own places (and no documents or emails)."""
    scope = [uuid.UUID(s) for s in session_ids] if session_ids is not None else None
    async with db() as tx:
        await tx.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        now = await tx.scalar(select(func.now()))
        assert now is not None
        snapshot = Snapshot(now=now)
        for row in await tx.execute(_sessions(scope)):
            snapshot.sessions[str(row.id)] = SessionRow(
                str(row.id),
                row.capacity,
                row.status,
                row.seat_rows,
                row.held,
                row.sold,
                row.cancelled_at,
                row.offered,
                row.starts_at,
                row.waiting_list_status,
            )
        for row in await tx.execute(_taken(scope)):
            snapshot.taken.append(
                TakenSeat(str(row.session_id), row.label, SeatState(row.state), str(row.booking_id))
            )
        for row in await tx.execute(_offered(scope)):
            snapshot.offered.append(
                OfferedSeat(
                    str(row.session_id),
                    row.label,
                    str(row.id),
                    row.state,
                    list(row.offer_seat_labels),
                    row.updated_at,
                    row.offer_expires_at,
                )
            )
        for booking in await tx.scalars(_bookings(scope, place_holders_only)):
            snapshot.bookings[str(booking.id)] = _booking_row(booking)
        for row in await tx.execute(_move_intents(scope)):
            moved = snapshot.bookings.get(str(row.booking_id))
            if moved is not None:
                snapshot.bookings[moved.id] = replace(
                    moved, move_intents=(*moved.move_intents, row.payment_intent_id)
                )
        for row in await tx.execute(_claims(scope)):
            claim = _claim(row)
            snapshot.claims.setdefault(claim.payment_intent_id, []).append(claim)
            claimant = snapshot.bookings.get(claim.booking_id)
            if claimant is not None:
                snapshot.bookings[claimant.id] = replace(claimant, claims=(*claimant.claims, claim))
        if not place_holders_only:
            await _read_money_and_messages(tx, scope, snapshot)
    return snapshot


async def _read_money_and_messages(
    tx: AsyncSession, scope: list[uuid.UUID] | None, snapshot: Snapshot
) -> None:
    """Refunds, documents and emails: what the rules of I4, I7 and I8 read."""
    for row in await tx.execute(_refunds(scope)):
        refund = RecordedRefund(row.sequence, row.stripe_refund_id, row.amount)
        snapshot.refunds.setdefault(str(row.booking_id), []).append(refund)
    for row in await tx.execute(_documents(scope)):
        booking_id = str(row.booking_id)
        key = (booking_id, row.kind)
        snapshot.documents[key] = snapshot.documents.get(key, 0) + row.rows
        if row.kind == DocumentKind.CREDIT_NOTE and row.refund_sequence is not None:
            snapshot.credit_notes.setdefault(booking_id, set()).add(row.refund_sequence)
    for row in await tx.execute(_emails(scope)):
        snapshot.emails.append(
            EmailCount(
                str(row.booking_id), row.kind, row.rows, row.sending, row.failed, row.sending_since
            )
        )


_AnySelect = Select[*tuple[Any, ...]]
_Statement = TypeVar("_Statement", bound=_AnySelect)


def _in_scope(
    statement: _Statement, column: InstrumentedAttribute[Any], scope: list[uuid.UUID] | None
) -> _Statement:
    return statement if scope is None else statement.where(column.in_(scope))


def _of_bookings_in_scope(
    statement: _Statement, booking_id: InstrumentedAttribute[Any], scope: list[uuid.UUID] | None
) -> _Statement:
    """Rows of a booking's table, scoped by their booking's session."""
    joined = statement.join(Booking, Booking.id == booking_id)
    return _in_scope(joined, Booking.session_id, scope)


def _sessions(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = (
        select(
            Session.id,
            Session.capacity,
            Session.status,
            Session.cancelled_at,
            Session.starts_at,
            Session.waiting_list_status,
            func.count(Seat.id).label("seat_rows"),
            func.count(Seat.id).filter(Seat.state == SeatState.HELD).label("held"),
            func.count(Seat.id).filter(Seat.state == SeatState.SOLD).label("sold"),
            func.count(Seat.id).filter(Seat.state == SeatState.OFFERED).label("offered"),
        )
        .outerjoin(Seat, Seat.session_id == Session.id)
        .group_by(Session.id)
    )
    return _in_scope(statement, Session.id, scope)


def _taken(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = select(Seat.session_id, Seat.label, Seat.state, Seat.booking_id).where(
        Seat.booking_id.is_not(None)
    )
    return _in_scope(statement, Seat.session_id, scope)


def _offered(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = select(
        Seat.session_id,
        Seat.label,
        WaitingListEntry.id,
        WaitingListEntry.state,
        WaitingListEntry.offer_seat_labels,
        WaitingListEntry.updated_at,
        WaitingListEntry.offer_expires_at,
    ).join(WaitingListEntry, WaitingListEntry.id == Seat.waiting_entry_id)
    return _in_scope(statement, Seat.session_id, scope)


def _bookings(scope: list[uuid.UUID] | None, place_holders_only: bool) -> _AnySelect:
    statement = select(Booking)
    if place_holders_only:
        holders = select(Seat.booking_id).where(Seat.booking_id.is_not(None))
        statement = statement.where(Booking.id.in_(_in_scope(holders, Seat.session_id, scope)))
    return _in_scope(statement, Booking.session_id, scope)


def _move_intents(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = (
        select(BookingPayment.booking_id, BookingPayment.payment_intent_id)
        .where(BookingPayment.move_number.is_not(None), BookingPayment.transferred_from.is_(None))
        .order_by(BookingPayment.booking_id, BookingPayment.move_number)
    )
    return _of_bookings_in_scope(statement, BookingPayment.booking_id, scope)


# A row of booking_payments that is a claim: its own intent, a part handed over, or a move's
# difference once paid (one abandoned, or still waited for, is not yet money it holds).
IS_CLAIM = or_(
    BookingPayment.move_number.is_(None),
    BookingPayment.transferred_from.is_not(None),
    BookingPayment.paid_at.is_not(None),
)


def _claims(scope: list[uuid.UUID] | None) -> _AnySelect:
    """Every claim on the intents the bookings in scope claim, whoever's: own intents first,
    then moves' differences, then what was handed over."""
    statement = (
        select(
            BookingPayment.payment_intent_id,
            BookingPayment.booking_id,
            BookingPayment.amount,
            BookingPayment.transferred_from,
            BookingPayment.move_number,
            Booking.status,
            Booking.confirmed_at,
            func.greatest(Booking.created_at, Booking.updated_at).label("changed_at"),
        )
        .join(Booking, Booking.id == BookingPayment.booking_id)
        .where(IS_CLAIM)
        .order_by(
            BookingPayment.booking_id,
            BookingPayment.transferred_from.is_not(None),
            BookingPayment.move_number.nulls_first(),
            BookingPayment.created_at,
        )
    )
    if scope is None:
        return statement
    in_scope = _of_bookings_in_scope(
        select(BookingPayment.payment_intent_id), BookingPayment.booking_id, scope
    )
    return statement.where(BookingPayment.payment_intent_id.in_(in_scope))


def _refunds(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = select(
        BookingRefund.booking_id,
        BookingRefund.sequence,
        BookingRefund.stripe_refund_id,
        BookingRefund.amount,
    ).order_by(BookingRefund.booking_id, BookingRefund.sequence)
    return _of_bookings_in_scope(statement, BookingRefund.booking_id, scope)


def _documents(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = select(
        Receipt.booking_id, Receipt.kind, Receipt.refund_sequence, func.count().label("rows")
    ).group_by(Receipt.booking_id, Receipt.kind, Receipt.refund_sequence)
    return _of_bookings_in_scope(statement, Receipt.booking_id, scope)


def _emails(scope: list[uuid.UUID] | None) -> _AnySelect:
    statement = select(
        Notification.booking_id,
        Notification.kind,
        func.count().label("rows"),
        func.count().filter(Notification.status == NotificationStatus.SENDING).label("sending"),
        func.count().filter(Notification.status == NotificationStatus.FAILED).label("failed"),
        func.min(Notification.created_at)
        .filter(Notification.status == NotificationStatus.SENDING)
        .label("sending_since"),
    ).group_by(Notification.booking_id, Notification.kind)
    return _of_bookings_in_scope(statement, Notification.booking_id, scope)


def _booking_row(booking: Booking) -> BookingRow:
    return BookingRow(
        id=str(booking.id),
        session_id=str(booking.session_id),
        status=booking.status,
        quantity=booking.quantity,
        seat_labels=list(booking.seat_labels or []),
        payment_intent_id=booking.payment_intent_id,
        amount_total=booking.amount_total,
        currency=booking.currency,
        reference=booking.reference,
        amount_paid=booking.paid,
        amount_refunded=booking.amount_refunded,
        confirmed_at=booking.confirmed_at,
        hold_expires_at=booking.hold_expires_at,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        closed_at=booking.closed_at,
        split_from=str(booking.split_from) if booking.split_from else None,
    )


def _claim(row: Any) -> Claim:
    return Claim(
        row.payment_intent_id,
        str(row.booking_id),
        row.amount,
        str(row.transferred_from) if row.transferred_from else None,
        row.move_number,
        row.status,
        row.confirmed_at is not None,
        row.changed_at,
    )
