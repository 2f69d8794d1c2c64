"""Bookings made straight through the activities, for activity tests."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from messages.booking import Attendee, BookingRequest


async def confirmed_booking(
    db: async_sessionmaker[AsyncSession], session_id: str, quantity: int, attendees: int = 0
) -> str:
    """Held and confirmed (with its reference), as if its payment had succeeded."""
    inventory = InventoryActivities(db, "RFT-{year}-{seq:04d}")
    booking_id = str(uuid.uuid4())
    await inventory.reserve(
        BookingRequest(
            booking_id=booking_id,
            session_id=session_id,
            customer_name="Ada Lovelace",
            customer_email="ada@example.com",
            quantity=quantity,
            attendees=[Attendee(f"Attendee {n}") for n in range(1, attendees + 1)],
            request_fingerprint=booking_id,
        )
    )
    await inventory.confirm(booking_id)
    return booking_id
