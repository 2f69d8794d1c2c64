"""Reading bookings back from their database mirror."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import BookingNotFound, DocumentNotFound
from models.tables import Booking, Receipt


async def get_booking(db: AsyncSession, booking_id: str) -> Booking:
    try:
        key = uuid.UUID(booking_id)
    except ValueError:
        raise BookingNotFound(f"booking {booking_id} does not exist") from None
    booking = await db.get(Booking, key)
    if booking is None:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    return booking


async def get_document(db: AsyncSession, booking_id: str, kind: str) -> Receipt:
    booking = await get_booking(db, booking_id)
    document = await db.scalar(
        select(Receipt).where(Receipt.booking_id == booking.id, Receipt.kind == kind)
    )
    if document is None:
        label = kind.replace("_", " ")
        raise DocumentNotFound(f"booking {booking_id} has no {label} (status {booking.status})")
    return document
