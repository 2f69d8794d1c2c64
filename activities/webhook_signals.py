"""Wakes the delivery workflows of pending webhook deliveries (signal-with-start).

Called after the transaction that wrote the deliveries commits. The workflows read what to
send from the database, so a nudge carries nothing and one nudge too many costs nothing; a
nudge lost (Temporal down) raises, and the caller's retry nudges every pending delivery again.
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from core.enums import WebhookDeliveryStatus
from messages.repairs import WebhookSweep
from messages.webhooks import (
    DELIVERY_WORKFLOW,
    NUDGE_SIGNAL,
    DeliveryStream,
    RetryTimings,
    delivery_workflow_id,
)
from models.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent

# Temporal unreachable fails the caller (it retries) instead of holding its transaction's result.
_RPC_TIMEOUT = timedelta(seconds=5)


class DeliveryStarter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        task_queue: str,
        retry: RetryTimings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._task_queue = task_queue
        self._retry = retry

    async def nudge_stream(self, stream_id: uuid.UUID) -> int:
        """Wake the workflows of a booking's (or session's) pending deliveries; how many."""
        return await self._nudge(WebhookEvent.stream_id == stream_id)

    async def nudge_streams(self, stream_ids: Select[Any]) -> int:
        """Wake the workflows of the pending deliveries of every stream `stream_ids` selects
        (a waiting list's entries, say); how many."""
        return await self._nudge(WebhookEvent.stream_id.in_(stream_ids))

    async def nudge_endpoint(self, endpoint_id: uuid.UUID) -> int:
        return await self._nudge(WebhookDelivery.endpoint_id == endpoint_id)

    async def nudge_all(self) -> int:
        """Every pending delivery of every enabled endpoint (after an outage, by an operator)."""
        return await self._nudge(WebhookEndpoint.enabled)

    @activity.defn(name="wake_stale_webhook_deliveries")
    async def wake_stale(self, sweep: WebhookSweep) -> int:
        """The safety net's sweep: wake what a lost wake-up left pending (a booking workflow
        terminated between its commit and its signal, say); waking a busy one costs nothing."""
        now = func.now()
        untried = and_(
            WebhookDelivery.last_attempt_at.is_(None),
            WebhookDelivery.queued_at < now - timedelta(seconds=sweep.untried_seconds),
        )
        tried = WebhookDelivery.last_attempt_at < now - timedelta(seconds=sweep.tried_seconds)
        return await self._nudge(or_(untried, tried), limit=sweep.batch)

    async def _nudge(self, condition: object, limit: int | None = None) -> int:
        """Wake each (endpoint, stream) with a pending delivery matching `condition`, the one
        waiting longest first; with `limit`, that many at most (the rest next time)."""
        async with self._sessionmaker() as db:
            pairs = (
                await db.execute(
                    select(WebhookDelivery.endpoint_id, WebhookEvent.stream_id)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        condition,  # type: ignore[arg-type]
                        WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                        WebhookEndpoint.enabled,
                    )
                    .group_by(WebhookDelivery.endpoint_id, WebhookEvent.stream_id)
                    .order_by(func.min(WebhookDelivery.queued_at))
                    .limit(limit)
                )
            ).all()
        for endpoint_id, stream_id in pairs:
            await self.start(str(endpoint_id), str(stream_id))
        return len(pairs)

    async def start(self, endpoint_id: str, stream_id: str) -> None:
        await self._temporal.start_workflow(
            DELIVERY_WORKFLOW,
            DeliveryStream(endpoint_id, stream_id, self._retry),
            id=delivery_workflow_id(endpoint_id, stream_id),
            task_queue=self._task_queue,
            start_signal=NUDGE_SIGNAL,
            rpc_timeout=_RPC_TIMEOUT,
        )
