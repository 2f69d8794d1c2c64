"""Reading bookings back from their database mirror."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import BookingNotFound
from models.tables import Booking


async def get_booking(db: AsyncSession, booking_id: str) -> Booking:
    try:
        key = uuid.UUID(booking_id)
    except ValueError:
        raise BookingNotFound(f"booking {booking_id} does not exist") from None
    booking = await db.get(Booking, key)
    if booking is None:
        raise BookingNotFound(f"booking {booking_id} does not exist")
    return booking
