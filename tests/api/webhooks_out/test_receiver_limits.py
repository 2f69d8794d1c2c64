"""A receiver cannot hold the shared worker: its answer is read up to a few KB and within one
deadline for the whole exchange, and only a short excerpt of it is kept (issue 17, case 13)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.webhooks_out import RESPONSE_BYTES, WebhookActivities
from core.enums import WebhookDeliveryStatus, WebhookEventType
from core.settings import Settings
from messages.webhooks import PendingDelivery
from models.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from store.organisations import DEFAULT_ORGANISATION_ID
from store.webhook_endpoints import create_endpoint
from store.webhook_events import publish

CHUNK = b"x" * 65536


class EndlessReceiver:
    """Answers every POST with `status` and a body that never ends: as fast as it can, or
    (`trickle`) one byte at a time, each well within any per-read timeout."""

    def __init__(self, status: int, trickle: bool = False, header: str = "") -> None:
        self.status, self.sent, self.header = status, 0, header
        self.write = self.trickle if trickle else self.fast

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        answer = f"HTTP/1.1 {self.status} X\r\n{self.header}Content-Length: 2000000000\r\n\r\n"
        writer.write(answer.encode())
        try:
            await self.write(writer)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the worker hung up: what it must do
        finally:
            writer.close()

    async def fast(self, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(CHUNK)
            await writer.drain()
            self.sent += len(CHUNK)

    async def trickle(self, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"y")
            await writer.drain()
            self.sent += 1
            await asyncio.sleep(0.05)


@asynccontextmanager
async def serving(receiver: EndlessReceiver) -> AsyncIterator[str]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()


async def pending_delivery(
    db: async_sessionmaker[AsyncSession], settings: Settings, url: str
) -> tuple[uuid.UUID, PendingDelivery]:
    async with db.begin() as s:
        endpoint, _ = await create_endpoint(
            s,
            DEFAULT_ORGANISATION_ID,
            url,
            [WebhookEventType.BOOKING_CREATED],
            settings.webhook_secret_keys,
        )
        event_id = await publish(
            s,
            WebhookEventType.PING,
            DEFAULT_ORGANISATION_ID,
            uuid.uuid4(),
            {},
            "ping",
            [endpoint.id],
        )
        delivery = await s.scalar(
            select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
        )
        assert delivery is not None
    return endpoint.id, PendingDelivery(str(delivery.id), event_id, 1)


@pytest.fixture
async def activities(
    db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[WebhookActivities]:
    async with httpx.AsyncClient(timeout=1.0) as http:
        yield WebhookActivities(db, http, settings.webhook_secret_keys, True)
    async with db.begin() as s:
        await s.execute(delete(WebhookEndpoint).where(WebhookEndpoint.url.like("%127.0.0.1%/hook")))


async def attempts(db: async_sessionmaker[AsyncSession], delivery_id: str) -> list[WebhookAttempt]:
    async with db() as s:
        rows = await s.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == uuid.UUID(delivery_id))
        )
        return list(rows)


async def test_an_endless_fast_body_is_read_no_further_than_a_few_kb(
    activities: WebhookActivities, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    receiver = EndlessReceiver(500)
    receiver_ok = EndlessReceiver(200)
    async with serving(receiver) as url, serving(receiver_ok) as url_ok:
        _, pending = await pending_delivery(db, settings, url)
        started = time.monotonic()
        with pytest.raises(ApplicationError) as failed:
            await activities.deliver(pending)
        assert time.monotonic() - started < 1.0
        assert "HTTP 500: xxx" in str(failed.value)
        [attempt] = await attempts(db, pending.delivery_id)
        assert attempt.status_code == 500 and len(attempt.error or "") <= 220
        _, ok = await pending_delivery(db, settings, url_ok)
        assert await activities.deliver(ok) == WebhookDeliveryStatus.DELIVERED
        await asyncio.sleep(0.2)
    # The sockets buffer some; the worker read at most RESPONSE_BYTES of it.
    assert receiver.sent < 100 * RESPONSE_BYTES * 16
    assert receiver_ok.sent < 100 * RESPONSE_BYTES * 16


async def test_a_trickling_answer_is_cut_at_the_deadline_and_retried(
    activities: WebhookActivities, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Each byte comes within httpx's per-read timeout; the whole exchange is still bounded."""
    receiver = EndlessReceiver(503, trickle=True)
    async with serving(receiver) as url:
        _, pending = await pending_delivery(db, settings, url)
        started = time.monotonic()
        with pytest.raises(ApplicationError) as failed:
            await activities.deliver(pending)
        took = time.monotonic() - started
    assert 0.9 < took < 2.0, took
    assert not failed.value.non_retryable
    [attempt] = await attempts(db, pending.delivery_id)
    assert attempt.status_code is None and "Timeout" in (attempt.error or "")
    assert receiver.sent < 40


async def test_a_huge_retry_after_waits_a_day_and_the_attempt_is_recorded(
    activities: WebhookActivities, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    receiver = EndlessReceiver(429, header=f"Retry-After: {'9' * 5000}\r\n")
    async with serving(receiver) as url:
        _, pending = await pending_delivery(db, settings, url)
        with pytest.raises(ApplicationError) as failed:
            await activities.deliver(pending)
    assert failed.value.next_retry_delay == timedelta(days=1)
    [attempt] = await attempts(db, pending.delivery_id)
    assert attempt.status_code == 429
