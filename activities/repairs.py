"""Finds what no booking workflow will ever put right: the safety net's eyes."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.payments import PaymentActivities
from models.booking import booking_workflow_id
from models.enums import BookingStatus, SeatState
from models.repairs import OrphanHold, SafetyNetInput, UnclaimedPayment
from models.tables import Booking, Seat

# Confirmed money belongs to these; any other status must have refunded it.
_CLAIMING = frozenset({BookingStatus.CONFIRMED, BookingStatus.COMPLETED})
_DESCRIBE_CONCURRENCY = 10


class RepairActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        payments: PaymentActivities,
    ):
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._payments = payments
        self._describing = asyncio.Semaphore(_DESCRIBE_CONCURRENCY)

    @activity.defn(name="find_orphan_holds")
    async def orphan_holds(self, input: SafetyNetInput) -> list[OrphanHold]:
        """Bookings holding places whose workflow has ended, or long past their hold."""
        grace = timedelta(seconds=input.hold_grace_seconds)
        async with self._sessionmaker() as db:
            holders = (
                await db.execute(
                    select(Booking.id, Booking.status, Booking.hold_expires_at)
                    .join(Seat, Seat.booking_id == Booking.id)
                    .where(Seat.state == SeatState.HELD)
                    .distinct()
                )
            ).all()
        now = datetime.now(UTC)

        async def judge(
            booking_id: uuid.UUID, status: str, hold_end: datetime
        ) -> OrphanHold | None:
            open_ = await self._workflow_open(str(booking_id))
            if open_ and not (status == BookingStatus.PENDING_PAYMENT and hold_end + grace < now):
                return None
            return OrphanHold(str(booking_id), BookingStatus(status), open_)

        found = await asyncio.gather(*(judge(*row) for row in holders))
        return [hold for hold in found if hold is not None]

    @activity.defn(name="find_unclaimed_payments")
    async def unclaimed_payments(self, input: SafetyNetInput) -> list[UnclaimedPayment]:
        """Succeeded payments whose booking is not confirmed, not refunded, and not alive."""
        since = int(time.time()) - input.payment_window_seconds
        paid = [intent async for intent in self._payments.paid_intents_since(since)]
        statuses = await self._statuses({p.booking_id for p in paid if p.booking_id})
        found = []
        for intent in paid:
            status = statuses.get(intent.booking_id or "")
            if status in _CLAIMING:
                continue
            if await self._payments.refunded_amount(intent.payment_intent_id) >= intent.amount:
                continue
            if status is not None and await self._workflow_open(str(intent.booking_id)):
                continue  # its workflow confirms or refunds it
            known = intent.booking_id if status is not None else None
            found.append(
                UnclaimedPayment(intent.payment_intent_id, known, intent.amount, intent.currency)
            )
        return found

    async def _statuses(self, booking_ids: set[str]) -> dict[str, str]:
        """The mirror's status of each booking that exists, by id."""
        keys = [uuid.UUID(b) for b in booking_ids if _is_uuid(b)]
        async with self._sessionmaker() as db:
            rows = await db.execute(select(Booking.id, Booking.status).where(Booking.id.in_(keys)))
        return {str(booking_id): status for booking_id, status in rows.all()}

    async def _workflow_open(self, booking_id: str) -> bool:
        async with self._describing:
            try:
                described = await self._temporal.get_workflow_handle(
                    booking_workflow_id(booking_id)
                ).describe()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                return False
        return described.status == WorkflowExecutionStatus.RUNNING


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(value or "")
    except ValueError:
        return False
    return True
