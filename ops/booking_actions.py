"""An operator's cancel, refund or end of a hold, sent to the booking's workflow as the API sends
the customer's and the admin's, and its outcome for people and scripts."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from clients.booking_workflows import change_within, customer_cancel
from core.enums import BookingStatus
from core.errors import BookingNotCancellable
from core.settings import Settings
from messages.booking import BookingView, RefundOrder
from models.tables import Booking
from store.booking_records import get_booking

EXPIRED_BY_OPERATOR = "expired by an operator"

# Sends one message to the booking's workflow: its outcome, or None while still under way.
Send = Callable[
    [async_sessionmaker[AsyncSession], Client, Settings, Booking], Awaitable[BookingView | None]
]


class AmountOverRemaining(ValueError):
    """A refund of more than remains paid."""

    def __init__(self, amount: int, remaining: int, currency: str):
        super().__init__(f"{amount}: only {remaining} remains paid")
        self.amount, self.remaining, self.currency = amount, remaining, currency


@dataclass(frozen=True)
class Outcome:
    booking_id: str
    was: str  # its status before
    view: BookingView | None  # None: accepted, still under way

    def as_json(self) -> dict[str, Any]:
        if self.view is None:
            return {"id": self.booking_id, "accepted": True, "status": None}
        return {
            "id": self.booking_id,
            "accepted": True,
            "status": str(self.view.status),
            "status_reason": self.view.status_reason,
            "refund_ids": self.view.refund_ids,
            "amount_refunded": self.view.amount_refunded,
            "amount_total": self.view.amount_total,
            "currency": self.view.currency,
        }

    def line(self) -> str:
        view = self.view
        if view is None:
            return (
                f"booking {self.booking_id}: accepted, still under way; the workflow finishes it "
                "(see bookings show)"
            )
        refunds = f"; refunds {', '.join(view.refund_ids)}" if view.refund_ids else ""
        return (
            f"booking {self.booking_id} is {view.status} ({view.status_reason}){refunds}; "
            f"was {self.was}"
        )


async def booking_in(
    db: async_sessionmaker[AsyncSession], booking_id: str, needs: BookingStatus | None
) -> Booking:
    """The booking, once it is in the status the action needs (None: any); BookingError when
    it does not exist or is not."""
    async with db() as s:
        mirror = await get_booking(s, booking_id)
    if needs is not None and mirror.status != needs:
        raise BookingNotCancellable(f"booking {booking_id} is {mirror.status}, not {needs}")
    return mirror


def cancel(booking_id: str, reason: str) -> Send:
    """The customer's cancel (clients.booking_workflows.customer_cancel), with the operator's
    reason."""

    async def send(
        db: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings, mirror: Booking
    ) -> BookingView | None:
        async with db() as s:
            request = await customer_cancel(s, mirror, reason)
        return await change_within(temporal, settings, booking_id, request, mirror.status)

    return send


def refund(booking_id: str, amount: int | None, reason: str) -> Send:
    """A refund of `amount` (None: all that remains paid); AmountOverRemaining if more. Each
    call is a new refund (its own update id)."""
    update_id = f"refund-{uuid.uuid4()}"

    async def send(
        _: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings, mirror: Booking
    ) -> BookingView | None:
        remaining = mirror.remaining
        if amount is not None and amount > remaining:
            raise AmountOverRemaining(amount, remaining, mirror.currency)
        order = RefundOrder(amount or remaining, reason)
        return await change_within(temporal, settings, booking_id, order, mirror.status, update_id)

    return send
