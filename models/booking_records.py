"""Every read of bookings and their documents from the database mirror, for the API and
activities alike."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import BookingNotFound, DocumentNotFound, parse_id
from models.enums import OPEN_STATUSES, DocumentKind
from models.tables import Booking, Receipt, Session


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
    db: AsyncSession, booking_id: uuid.UUID, kind: DocumentKind, refund_sequence: int | None = None
) -> Receipt | None:
    """The receipt, or the credit note of the `refund_sequence`-th refund (None: the full one
    of runs before partial refunds)."""
    return await db.scalar(
        select(Receipt).where(
            Receipt.booking_id == booking_id,
            Receipt.kind == kind,
            Receipt.refund_sequence.is_not_distinct_from(refund_sequence),
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
    """The booking that holds this PaymentIntent, if any."""
    return await db.scalar(select(Booking.id).where(Booking.payment_intent_id == payment_intent_id))


async def open_bookings(db: AsyncSession, session_id: uuid.UUID) -> Sequence[Booking]:
    """The session's bookings that can still be cancelled, paid or refunded."""
    found = await db.scalars(
        select(Booking).where(Booking.session_id == session_id, Booking.status.in_(OPEN_STATUSES))
    )
    return found.all()
