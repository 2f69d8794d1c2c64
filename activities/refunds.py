"""The one place a refund of a booking is written down, whoever made it, with its
`booking.refunded` webhook event in the same transaction."""

import uuid

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.webhook_signals import DeliveryStarter
from core.db import transaction
from core.enums import WebhookEventType
from messages.booking import RecordRefund
from models.tables import Booking, BookingRefund
from store.webhook_events import RefundFigures, publish_booking_event


class RefundActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks: DeliveryStarter | None = None,
    ):
        """`webhooks` None: events stay in the outbox until something nudges their delivery."""
        self._sessionmaker = sessionmaker
        self._webhooks = webhooks

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
                    source=refund.source,
                )
                .on_conflict_do_nothing(index_elements=["stripe_refund_id"])
                .returning(BookingRefund.id)
            )
            if inserted is not None:
                total_refunded = await db.scalar(
                    update(Booking)
                    .where(Booking.id == key)
                    .values(amount_refunded=Booking.amount_refunded + refund.amount)
                    .returning(Booking.amount_refunded)
                )
                await publish_booking_event(
                    db,
                    key,
                    WebhookEventType.BOOKING_REFUNDED,
                    dedup_key=f"refund-{refund.stripe_refund_id}",
                    refund=RefundFigures(refund.amount, total_refunded or refund.amount),
                )
        # After the commit, and on a retry too: a lost wake-up is sent again.
        if self._webhooks is not None:
            await self._webhooks.nudge_stream(key)
        return inserted is not None
