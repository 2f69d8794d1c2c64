"""Bookings made straight through the activities, for activity tests."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from messages.booking import Attendee, BookingRequest
from models.tables import Seat, WebhookDelivery, WebhookEvent


def request(
    session_id: str,
    quantity: int = 1,
    seats: list[str] | None = None,
    *,
    name: str = "Ada Lovelace",
    attendees: int = 0,
) -> BookingRequest:
    """A booking's request, its fingerprint its own id (a retry sends the same request)."""
    booking_id = str(uuid.uuid4())
    return BookingRequest(
        booking_id=booking_id,
        session_id=session_id,
        customer_name=name,
        customer_email="ada@example.com",
        quantity=quantity,
        seat_labels=seats or [],
        attendees=[Attendee(f"Attendee {n}") for n in range(1, attendees + 1)],
        request_fingerprint=booking_id,
    )


async def confirmed_booking(
    db: async_sessionmaker[AsyncSession], session_id: str, quantity: int, attendees: int = 0
) -> str:
    """Held and confirmed (with its reference), as if its payment had succeeded."""
    inventory = InventoryActivities(db)
    booking = request(session_id, quantity, attendees=attendees)
    await inventory.reserve(booking)
    await inventory.confirm(booking.booking_id)
    return booking.booking_id


async def seat_states(db: async_sessionmaker[AsyncSession], session_id: str) -> dict[str, int]:
    async with db() as s:
        rows = await s.execute(
            select(Seat.state, func.count())
            .where(Seat.session_id == uuid.UUID(session_id))
            .group_by(Seat.state)
        )
        return dict(rows.all())  # type: ignore[arg-type]


async def reserved(inventory: InventoryActivities, session_id: str) -> str:
    booking = request(session_id)
    await inventory.reserve(booking)
    return booking.booking_id


async def events_of(db: async_sessionmaker[AsyncSession], booking_id: str) -> list[tuple]:
    async with db() as session:
        rows = await session.execute(
            select(WebhookEvent.type, WebhookEvent.sequence, WebhookDelivery.status)
            .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
            .where(WebhookEvent.stream_id == uuid.UUID(booking_id))
            .order_by(WebhookEvent.sequence)
        )
        return [tuple(row) for row in rows.all()]
