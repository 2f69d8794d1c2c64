"""Webhooks out: find a stream's next pending delivery, send it signed, record every attempt."""

import asyncio
import ipaddress
import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.enums import WebhookDeliveryStatus
from core.webhook_secrets import unseal
from messages.webhooks import DeliveryStream, PendingDelivery
from models.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from store.webhook_events import payload_for

# Retried, as 5xx and no answer are: the receiver may take it later. Any other 4xx (or a 3xx)
# means it will never take this one.
RETRIED_4XX = frozenset({408, 429})  # request timeout, too many requests
REJECTED = "WebhookRejected"
UNAVAILABLE = "WebhookReceiverUnavailable"
_ERROR_CHARS = 500
# A receiver's answer is read up to this much and no further (an endless or huge body must not
# fill the shared worker's memory); only a short excerpt of it is kept with the attempt.
RESPONSE_BYTES = 4096
_EXCERPT_CHARS = 200
_MAX_RETRY_AFTER = timedelta(days=1)


@dataclass
class _Answer:
    status_code: int | None
    error: str | None
    retry_after: timedelta | None = None
    refused: bool = False  # not sent, and never will be


class WebhookActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        secret_keys: list[str],
        allow_private_addresses: bool = False,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._http = http
        self._secret_keys = secret_keys
        self._allow_private_addresses = allow_private_addresses
        # httpx bounds each read; the client's timeout also bounds the whole exchange, so a
        # receiver trickling its answer cannot hold an attempt past it.
        self._deadline = http.timeout.read or 10.0

    @activity.defn(name="next_webhook_delivery")
    async def next_delivery(self, stream: DeliveryStream) -> PendingDelivery | None:
        """The stream's earliest pending delivery to the endpoint, if it is enabled."""
        async with self._sessionmaker() as db:
            row = (
                await db.execute(
                    select(WebhookDelivery.id, WebhookEvent.id, WebhookEvent.sequence)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        WebhookDelivery.endpoint_id == uuid.UUID(stream.endpoint_id),
                        WebhookEvent.stream_id == uuid.UUID(stream.stream_id),
                        WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                        WebhookEndpoint.enabled,
                    )
                    .order_by(WebhookEvent.sequence)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return PendingDelivery(str(row[0]), row[1], row[2])

    @activity.defn(name="deliver_webhook")
    async def deliver(self, pending: PendingDelivery) -> WebhookDeliveryStatus | None:
        """POST the event, signed afresh (same `webhook-id`, current timestamp); record how
        it went. Raises to be retried (timeouts, connection errors, 5xx, 429) or, non-retryable,
        when the receiver refused it (other 4xx). None: nothing to send any more."""
        key = uuid.UUID(pending.delivery_id)
        async with self._sessionmaker() as db:
            found = (
                await db.execute(
                    select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == key)
                )
            ).first()
        if found is None:
            return None  # its endpoint was deleted
        delivery, event, endpoint = found
        if delivery.status != WebhookDeliveryStatus.PENDING or not endpoint.enabled:
            return None
        started = time.monotonic()
        answer = await self._post(endpoint, event)
        status = _status_of(answer)
        await self._record(key, answer, status, int((time.monotonic() - started) * 1000))
        if status == WebhookDeliveryStatus.FAILED:
            raise ApplicationError(f"refused: {answer.error}", type=REJECTED, non_retryable=True)
        if status == WebhookDeliveryStatus.PENDING:
            raise ApplicationError(
                f"not delivered: {answer.error}",
                type=UNAVAILABLE,
                next_retry_delay=answer.retry_after,
            )
        return status

    @activity.defn(name="give_up_webhook_delivery")
    async def give_up(self, pending: PendingDelivery) -> None:
        """Mark a delivery that exhausted its retries failed (it can be redelivered)."""
        async with self._sessionmaker.begin() as db:
            await db.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == uuid.UUID(pending.delivery_id),
                    WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                )
                .values(status=WebhookDeliveryStatus.FAILED)
            )

    async def _post(self, endpoint: WebhookEndpoint, event: WebhookEvent) -> _Answer:
        if not self._allow_private_addresses:
            try:
                refusal = await _not_public(endpoint.url)
            except OSError as err:  # the name did not resolve: perhaps later
                return _Answer(None, f"DNS: {err}"[:_ERROR_CHARS])
            if refusal is not None:
                return _Answer(None, refusal, refused=True)
        payload = payload_for(event.payload, endpoint.include_answers)
        body = json.dumps(payload, separators=(",", ":"))
        now = datetime.now(UTC)
        secret = unseal(endpoint.secret_encrypted, self._secret_keys)
        headers = {
            "content-type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(event.id, now, body),
        }
        try:
            async with asyncio.timeout(self._deadline):
                return await self._send(endpoint.url, body, headers)
        except httpx.HTTPError as err:
            return _Answer(None, f"{type(err).__name__}: {err}"[:_ERROR_CHARS])
        except TimeoutError:
            return _Answer(None, f"Timeout: no whole answer within {self._deadline:g} s")

    async def _send(self, url: str, body: str, headers: dict[str, str]) -> _Answer:
        async with self._http.stream("POST", url, content=body, headers=headers) as response:
            if response.is_success:
                return _Answer(response.status_code, None)
            excerpt = await _excerpt(response)
            return _Answer(
                response.status_code,
                f"HTTP {response.status_code}{': ' if excerpt else ''}{excerpt}",
                _retry_after(response.headers.get("retry-after")),
            )

    async def _record(
        self, key: uuid.UUID, answer: _Answer, status: WebhookDeliveryStatus, duration_ms: int
    ) -> None:
        async with self._sessionmaker.begin() as db:
            now = await db.scalar(select(func.now()))
            db.add(
                WebhookAttempt(
                    delivery_id=key,
                    attempted_at=now,
                    status_code=answer.status_code,
                    error=answer.error,
                    duration_ms=duration_ms,
                )
            )
            await db.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == key)
                .values(
                    attempts=WebhookDelivery.attempts + 1,
                    last_attempt_at=now,
                    status=status,
                    delivered_at=now if status == WebhookDeliveryStatus.DELIVERED else None,
                )
            )


def _status_of(answer: _Answer) -> WebhookDeliveryStatus:
    if answer.refused:
        return WebhookDeliveryStatus.FAILED
    code = answer.status_code
    if code is None or code >= 500 or code in RETRIED_4XX:
        return WebhookDeliveryStatus.PENDING
    if 200 <= code < 300:
        return WebhookDeliveryStatus.DELIVERED
    return WebhookDeliveryStatus.FAILED  # another 4xx, or a redirect (never followed)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, read no further than RESPONSE_BYTES: closing the stream
    drops the rest with the connection."""
    read = bytearray()
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= RESPONSE_BYTES:
            break
    text = read[:RESPONSE_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())[:_EXCERPT_CHARS]


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` in seconds, at most a day (its date form is not honoured: the backoff
    applies)."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit():
        return None
    if len(value) > len(str(int(_MAX_RETRY_AFTER.total_seconds()))):
        return _MAX_RETRY_AFTER
    return min(timedelta(seconds=int(value)), _MAX_RETRY_AFTER)


async def _not_public(url: str) -> str | None:
    """Why the URL's host may not be called (it resolves to a non-public address), or None.

    Checked before each attempt; a name that resolves differently between this check and the
    connection (DNS rebinding) is not caught: a network egress policy is the complete answer.
    """
    host = urlsplit(url).hostname or ""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            return f"{host} resolves to {address}, not a public address"
    return None
