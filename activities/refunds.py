"""The one place a refund of a booking is written down, whoever made it (the coordinator of
outgoing webhooks hooks `booking.refunded` here)."""

import uuid

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.db import transaction
from models.booking import RecordRefund
from models.tables import Booking, BookingRefund


class RefundActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]):
        self._sessionmaker = sessionmaker

    @activity.defn(name="record_refund")
    async def record(self, request: RecordRefund) -> bool:
        """Add the refund and its amount to the booking, once: False when it was recorded."""
        refund = request.refund
        key = uuid.UUID(request.booking_id)
        async with transaction(self._sessionmaker) as db:
            inserted = await db.scalar(
                insert(BookingRefund)
                .values(
                    booking_id=key,
                    sequence=refund.sequence,
                    amount=refund.amount,
                    currency=request.currency,
                    reason=refund.reason,
                    stripe_refund_id=refund.stripe_refund_id,
                    refunded_at=refund.refunded_at,
                )
                .on_conflict_do_nothing(index_elements=["stripe_refund_id"])
                .returning(BookingRefund.id)
            )
            if inserted is None:
                return False
            await db.execute(
                update(Booking)
                .where(Booking.id == key)
                .values(
                    amount_refunded=Booking.amount_refunded + refund.amount, updated_at=func.now()
                )
            )
            return True
