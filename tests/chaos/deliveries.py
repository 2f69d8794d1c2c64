"""Emails as the fake SendGrid received them: what the database ledger cannot show."""

from collections import Counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fakes.sendgrid_server import FakeSendGrid


def deliveries(sendgrid: FakeSendGrid) -> Counter[str]:
    """How many times SendGrid accepted each notification key. More than once is allowed (at
    least once, with the key for the receiving side to deduplicate) and reported."""
    return Counter(
        r.body.get("custom_args", {}).get("notification_key", "") for r in sendgrid.requests
    )


async def unconfirmed_customers(engine: AsyncEngine, sendgrid: FakeSendGrid) -> list[str]:
    """I4, at least once: every confirmed booking's confirmation reached SendGrid."""
    async with engine.connect() as db:
        query = "SELECT id::text, status FROM bookings WHERE status IN ('CONFIRMED', 'COMPLETED')"
        confirmed = (await db.execute(text(query))).all()
    delivered = deliveries(sendgrid)
    return [
        f"I4 email-undelivered {booking_id}: is {status}, SendGrid never got its confirmation"
        for booking_id, status in confirmed
        if not delivered[f"{booking_id}:confirmation"]
    ]
