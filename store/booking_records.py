"""Every read of bookings and their documents from the database mirror, for the API and
activities alike, and the one mapping of a booking row to its public shape."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.customer_hash import normalise_email
from core.enums import OPEN_STATUSES, BookingStatus, DocumentKind
from core.errors import BookingNotFound, DocumentNotFound, parse_id
from models.tables import Booking, BookingPayment, Receipt, Session


@dataclass(frozen=True)
class BookingFilter:
    """Which of one organisation's bookings a list holds. Ranges include their start and
    exclude their end."""

    organisation_id: uuid.UUID
    statuses: Sequence[BookingStatus] = ()
    session_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    customer_email: str | None = None


@dataclass(frozen=True)
class ListPosition:
    """The last booking a page gave, in the list's order: the next page starts after it."""

    created_at: datetime
    id: uuid.UUID


async def get_booking(
    db: AsyncSession, booking_id: str, organisation_id: uuid.UUID | None = None
) -> Booking:
    """The booking; with `organisation_id`, one of another organisation's sessions is
    BookingNotFound too, exactly as a missing one (its existence is not revealed)."""
    key = parse_id(booking_id, BookingNotFound, "booking")
    if organisation_id is None:
        booking = await db.get(Booking, key)
    else:
        booking = await db.scalar(
            select(Booking)
            .join(Session, Session.id == Booking.session_id)
            .where(Booking.id == key, Session.organisation_id == organisation_id)
        )
    if booking is None:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    return booking


async def find_document(
    db: AsyncSession,
    booking_id: uuid.UUID,
    kind: DocumentKind,
    refund_sequence: int | None = None,
    move_number: int | None = None,
) -> Receipt | None:
    """The receipt (of the `move_number`-th move's difference, or the booking's own), or the
    credit note of the `refund_sequence`-th refund (None: the full one of runs before partial
    refunds)."""
    return await db.scalar(
        select(Receipt).where(
            Receipt.booking_id == booking_id,
            Receipt.kind == kind,
            Receipt.refund_sequence.is_not_distinct_from(refund_sequence),
            Receipt.move_number.is_not_distinct_from(move_number),
        )
    )


async def get_document(
    db: AsyncSession,
    booking_id: str,
    kind: DocumentKind,
    organisation_id: uuid.UUID | None = None,
    number: str | None = None,
) -> Receipt:
    """The booking's document of `kind`: for credit notes, the latest (or the one `number`)."""
    booking = await get_booking(db, booking_id, organisation_id)
    query = select(Receipt).where(Receipt.booking_id == booking.id, Receipt.kind == kind)
    if number is not None:
        query = query.where(Receipt.number == number)
    document = await db.scalar(query.order_by(Receipt.id.desc()).limit(1))
    if document is None:
        label = kind.replace("_", " ")
        raise DocumentNotFound(f"booking {booking_id} has no {label} (status {booking.status})")
    return document


async def booking_paid_by(db: AsyncSession, payment_intent_id: str) -> uuid.UUID | None:
    """The booking that holds this PaymentIntent (its own, or a move's difference), if any."""
    own = await db.scalar(select(Booking.id).where(Booking.payment_intent_id == payment_intent_id))
    if own is not None:
        return own
    return await db.scalar(
        select(BookingPayment.booking_id).where(
            BookingPayment.payment_intent_id == payment_intent_id
        )
    )


async def other_claimants(
    db: AsyncSession, payment_intent_id: str, booking_id: uuid.UUID
) -> list[uuid.UUID]:
    """The other bookings that claim part of this PaymentIntent (split off by partial moves,
    or the one they were split from), oldest claim first."""
    found = await db.scalars(
        select(BookingPayment.booking_id)
        .where(
            BookingPayment.payment_intent_id == payment_intent_id,
            BookingPayment.booking_id != booking_id,
        )
        .order_by(BookingPayment.created_at, BookingPayment.booking_id)
    )
    return list(found)


async def open_bookings(db: AsyncSession, session_id: uuid.UUID) -> Sequence[Booking]:
    """The session's bookings that can still be cancelled, paid or refunded."""
    found = await db.scalars(
        select(Booking).where(Booking.session_id == session_id, Booking.status.in_(OPEN_STATUSES))
    )
    return found.all()


def customer_email_is(email: str) -> ColumnElement[bool]:
    """The booking's customer has this address, however either is spaced, cased or composed
    (both sides normalised by the one function; `ix_bookings_customer_email_normalised`)."""
    return Booking.customer_email_normalised == normalise_email(email)


async def list_bookings(
    db: AsyncSession, where: BookingFilter, after: ListPosition | None, limit: int
) -> Sequence[Booking]:
    """Up to `limit` bookings in creation order (then id), after `after`.

    Keyset pagination: a page starts after the last row of the one before, so a booking
    inserted meanwhile never shifts a row into the next page or out of it.
    """
    query = (
        select(Booking)
        .join(Session, Session.id == Booking.session_id)
        .where(Session.organisation_id == where.organisation_id)
    )
    if where.statuses:
        query = query.where(Booking.status.in_(where.statuses))
    if where.session_id is not None:
        query = query.where(Booking.session_id == where.session_id)
    if where.created_after is not None:
        query = query.where(Booking.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(Booking.created_at < where.created_before)
    if where.updated_after is not None:
        query = query.where(Booking.updated_at >= where.updated_after)
    if where.updated_before is not None:
        query = query.where(Booking.updated_at < where.updated_before)
    if where.customer_email is not None:
        query = query.where(customer_email_is(where.customer_email))
    if after is not None:
        query = query.where(tuple_(Booking.created_at, Booking.id) > (after.created_at, after.id))
    found = await db.scalars(query.order_by(Booking.created_at, Booking.id).limit(limit))
    return found.all()


async def all_bookings(
    db: AsyncSession, where: BookingFilter, page_size: int
) -> AsyncIterator[Sequence[Booking]]:
    """Every matching booking, a page at a time (for exports: no page holds the whole list)."""
    after = None
    while page := await list_bookings(db, where, after, page_size):
        yield page
        after = ListPosition(page[-1].created_at, page[-1].id)


def public_booking(booking: Booking) -> dict[str, Any]:
    """The booking as `GET /v1/bookings/{id}` shows it and its webhook events tell it, less the
    payment's client secret (the API adds it to the answer that creates the booking)."""
    return {
        "id": str(booking.id),
        "status": booking.status,
        "status_reason": booking.status_reason,
        "reference": booking.reference,
        "session_id": str(booking.session_id),
        "seats": list(booking.seat_labels),
        "quantity": booking.quantity,
        "amount_subtotal": booking.amount_subtotal,
        "discount": booking.discount,
        "amount_total": booking.amount_total,
        "currency": booking.currency,
        "hold_expires_at": booking.hold_expires_at,
        "payment": {"provider": "stripe", "payment_intent_id": booking.payment_intent_id},
        "customer": {"name": booking.customer_name, "email": booking.customer_email},
        "attendees": list(booking.attendees),
        "answers": list(booking.answers or []),
        "consents": list(booking.consents or []),
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
        "confirmed_at": booking.confirmed_at,
        "amount_paid": booking.paid,
        "amount_refunded": booking.amount_refunded,
        "amount_remaining": booking.remaining,
        "split_from": str(booking.split_from) if booking.split_from else None,
    }
