"""An organisation's webhook endpoints and their deliveries: every read and write of them."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import WebhookDeliveryStatus, WebhookEventType
from core.errors import (
    InvalidRequest,
    WebhookDeliveryNotFound,
    WebhookEndpointDisabled,
    WebhookEndpointNotFound,
    parse_id,
)
from core.webhook_secrets import new_secret, seal
from models.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from store.sequences import database_now
from store.webhook_events import publish

# Every booking transition wakes one delivery workflow per subscribed endpoint: bounded.
MAX_ENDPOINTS_PER_ORGANISATION = 20


async def create_endpoint(
    db: AsyncSession,
    organisation_id: uuid.UUID,
    url: str,
    events: Sequence[WebhookEventType],
    secret_keys: list[str],
    *,
    description: str | None = None,
    enabled: bool = True,
    include_answers: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is returned only here."""
    count = await db.scalar(
        select(func.count()).where(WebhookEndpoint.organisation_id == organisation_id)
    )
    if (count or 0) >= MAX_ENDPOINTS_PER_ORGANISATION:
        raise InvalidRequest(
            f"an organisation has at most {MAX_ENDPOINTS_PER_ORGANISATION} webhook endpoints"
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id,
        url=url,
        description=description,
        event_types=sorted({e.value for e in events}),
        secret_encrypted=seal(secret, secret_keys),
        enabled=enabled,
        include_answers=include_answers,
    )
    db.add(endpoint)
    await db.flush()
    await db.refresh(endpoint)
    return endpoint, secret


async def get_endpoint(
    db: AsyncSession, endpoint_id: str, organisation_id: uuid.UUID | None = None
) -> WebhookEndpoint:
    """The endpoint; another organisation's is WebhookEndpointNotFound, as a missing one."""
    key = parse_id(endpoint_id, WebhookEndpointNotFound, "webhook endpoint")
    endpoint = await db.get(WebhookEndpoint, key)
    if endpoint is None or organisation_id not in (None, endpoint.organisation_id):
        raise WebhookEndpointNotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


async def list_endpoints(
    db: AsyncSession, organisation_id: uuid.UUID | None = None
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if organisation_id is not None:
        query = query.where(WebhookEndpoint.organisation_id == organisation_id)
    return (await db.scalars(query)).all()


@dataclass
class DeliveryRecord:
    delivery: WebhookDelivery
    event: WebhookEvent
    attempts: list[WebhookAttempt]


async def list_deliveries(
    db: AsyncSession,
    endpoint: WebhookEndpoint,
    status: WebhookDeliveryStatus | None = None,
    limit: int = 50,
) -> list[DeliveryRecord]:
    """The endpoint's latest deliveries, newest first, each with its attempts, oldest first."""
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookEvent.created_at.desc(), WebhookEvent.sequence.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = (await db.execute(query)).all()
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d, _ in rows}
    if attempts:
        for attempt in await db.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(attempts))
            .order_by(WebhookAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryRecord(d, e, attempts[d.id]) for d, e in rows]


async def requeue_delivery(
    db: AsyncSession, endpoint: WebhookEndpoint, delivery_id: str
) -> uuid.UUID:
    """Make a delivery pending again (same event, same `webhook-id`; its attempts stay);
    the stream whose delivery workflow must be nudged."""
    _refuse_disabled(endpoint)
    key = parse_id(delivery_id, WebhookDeliveryNotFound, "delivery")
    stream_id = await db.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == key,
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.event_id == WebhookEvent.id,
        )
        .values(
            status=WebhookDeliveryStatus.PENDING,
            queued_at=await database_now(db),
            delivered_at=None,
        )
        .returning(WebhookEvent.stream_id)
    )
    if stream_id is None:
        raise WebhookDeliveryNotFound(f"delivery {delivery_id} does not exist")
    return stream_id


async def queue_ping(db: AsyncSession, endpoint: WebhookEndpoint) -> DeliveryRecord:
    """A `ping` event for this endpoint only (subscribed or not), on a stream of its own."""
    _refuse_disabled(endpoint)
    data = {"endpoint_id": str(endpoint.id)}
    event_id = await publish(
        db,
        WebhookEventType.PING,
        endpoint.organisation_id,
        uuid.uuid4(),
        data,
        "ping",
        [endpoint.id],
    )
    row = (
        await db.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.id == event_id)
        )
    ).one()
    return DeliveryRecord(row[0], row[1], [])


def _refuse_disabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise WebhookEndpointDisabled(f"webhook endpoint {endpoint.id} is disabled")
