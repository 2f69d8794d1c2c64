"""Bookings in known states for the consistency checker, and the checker scoped to them (the
`run_check` fixture, a plugin of tests/conftest.py).

Other tests share the database, Temporal and localstripe: every check here is limited to the
sessions its test created.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.enums import BookingStatus, DocumentKind, EmailKind, NotificationStatus
from models.tables import Booking, Notification, Receipt
from reconcile.consistency import Report, check
from tests.helpers.api_bookings import paid_booking, start_booking, wait_for_status
from tests.helpers.polling import eventually

# Long enough for a transition's writes to land; short enough to keep the tests quick.
SETTLE_SECONDS = 1.0


@dataclass
class World:
    """What one test made: its sessions, and its bookings by name."""

    session_ids: list[str]
    bookings: dict[str, dict[str, Any]]

    def id(self, name: str) -> str:
        return str(self.bookings[name]["id"])


Check = Callable[..., Awaitable[Report]]


@pytest.fixture
def run_check(
    db: async_sessionmaker[AsyncSession], temporal: Client, stripe_client: stripe.StripeClient
) -> Check:
    """The checker over the given sessions (bring them to rest first, see `at_rest`)."""

    async def run(world: World, **options: Any) -> Report:
        options.setdefault("settle_seconds", SETTLE_SECONDS)
        options.setdefault("recheck_seconds", 0)
        options.setdefault("hold_grace", timedelta(seconds=30))
        return await check(db, temporal, stripe_client, session_ids=world.session_ids, **options)

    return run


async def at_rest(db: async_sessionmaker[AsyncSession], world: World, within: float = 20) -> None:
    """Wait until no email of these bookings is being sent and every confirmed one has its
    receipt and its confirmation email (one split off by a partial move: its move email; the
    step after the receipt: a test that edits that email's row must not find it missing, nor
    have its edit overwritten by the step), then for the settle time, so the check judges
    bookings at rest."""
    ids = [uuid.UUID(world.id(name)) for name in world.bookings]

    async def busy() -> int:
        async with db() as session:
            sending = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.booking_id.in_(ids),
                    Notification.status == NotificationStatus.SENDING,
                )
            )
            unconfirmed = await session.scalar(
                select(func.count())
                .select_from(Booking)
                .where(
                    Booking.id.in_(ids),
                    Booking.status == BookingStatus.CONFIRMED,
                    or_(
                        Booking.split_from.is_(None)
                        & ~select(Receipt.id)
                        .where(
                            Receipt.booking_id == Booking.id, Receipt.kind == DocumentKind.RECEIPT
                        )
                        .exists(),
                        ~select(Notification.key)
                        .where(
                            Notification.booking_id == Booking.id,
                            # A booking split off by a partial move: its move email, no receipt.
                            Notification.kind
                            == case(
                                (Booking.split_from.is_(None), EmailKind.CONFIRMATION),
                                else_=EmailKind.MOVED,
                            ),
                        )
                        .exists(),
                    ),
                )
            )
        return (sending or 0) + (unconfirmed or 0)

    await eventually(busy, lambda n: n == 0, within=within, what="the bookings at rest")
    await settled()


async def settled() -> None:
    """Wait out the settle time: rows changed before now count as at rest for the check."""
    await asyncio.sleep(SETTLE_SECONDS + 0.2)


async def pending(api: httpx.AsyncClient, session_id: str, quantity: int = 1) -> dict[str, Any]:
    return await start_booking(api, session_id, quantity)


async def confirmed(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, session_id: str, quantity: int = 1
) -> dict[str, Any]:
    return await paid_booking(api, stripe_client, session_id, quantity)


async def cancelled(api: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    booking = await start_booking(api, session_id, 1)
    response = await api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert response.status_code == 200, response.text
    return await wait_for_status(api, booking["id"], "CANCELLED")


async def refunded(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, session_id: str
) -> dict[str, Any]:
    booking = await paid_booking(api, stripe_client, session_id, 1)
    response = await api.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"})
    assert response.status_code == 200, response.text
    return await wait_for_status(api, booking["id"], "REFUNDED")


async def expired(
    api: httpx.AsyncClient, new_session: Callable[..., Awaitable[str]], quantity: int = 1
) -> tuple[str, dict[str, Any]]:
    """A booking whose hold ran out, in a session of its own (holds are per session)."""
    session_id = await new_session(capacity=4, hold_seconds=1)
    booking = await start_booking(api, session_id, quantity)
    return session_id, await wait_for_status(api, booking["id"], "EXPIRED", within=15)
