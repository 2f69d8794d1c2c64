"""Webhook endpoints (admin): register, list, change, delete, ping; deliveries and redelivery."""

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from activities.webhook_signals import DeliveryStarter
from api.deps import AdminCaller, DbDep, SettingsDep, TemporalDep
from core.enums import WebhookDeliveryStatus, WebhookEventType
from messages.webhooks import retry_timings
from models.tables import WebhookEndpoint
from schemas.webhooks import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointPatch,
)
from store.sequences import database_now
from store.webhook_endpoints import (
    DeliveryRecord,
    create_endpoint,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    queue_ping,
    requeue_delivery,
)
from store.webhook_events import payload_for

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
_DISABLED: dict[int | str, dict[str, Any]] = {409: {"description": "The endpoint is disabled"}}
log = logging.getLogger(__name__)


def delivery_starter(
    request: Request, temporal: TemporalDep, settings: SettingsDep
) -> DeliveryStarter:
    return DeliveryStarter(
        request.app.state.sessionmaker, temporal, settings.task_queue, retry_timings(settings)
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookEndpointCreated)
async def create(
    body: WebhookEndpointIn, caller: AdminCaller, db: DbDep, settings: SettingsDep
) -> WebhookEndpointCreated:
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    endpoint, secret = await create_endpoint(
        db,
        caller.organisation_id,
        body.url,
        body.events,
        settings.webhook_secret_keys,
        description=body.description,
        enabled=body.enabled,
        include_answers=body.include_answers,
    )
    await db.commit()
    return WebhookEndpointCreated(**_out(endpoint).model_dump(), secret=secret)


@router.get("", response_model=WebhookEndpointList)
async def list_all(caller: AdminCaller, db: DbDep) -> WebhookEndpointList:
    return WebhookEndpointList(
        items=[_out(e) for e in await list_endpoints(db, caller.organisation_id)]
    )


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut)
async def read_one(endpoint_id: str, caller: AdminCaller, db: DbDep) -> WebhookEndpointOut:
    return _out(await get_endpoint(db, endpoint_id, caller.organisation_id))


@router.patch("/{endpoint_id}", response_model=WebhookEndpointOut)
async def change(
    endpoint_id: str,
    body: WebhookEndpointPatch,
    caller: AdminCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    request: Request,
    background: BackgroundTasks,
) -> WebhookEndpointOut:
    """Change the URL, the events, whether it is enabled or gets bookings' answers. Enabling
    it again sends what was left pending while it was disabled (events while disabled are not
    recorded for it), once the answer has gone: the backlog may be long."""
    endpoint = await get_endpoint(db, endpoint_id, caller.organisation_id)
    if body.url is not None:
        endpoint.url = body.url
    if body.events is not None:
        endpoint.event_types = sorted({e.value for e in body.events})
    if body.enabled is not None:
        endpoint.enabled = body.enabled
    if body.include_answers is not None:
        endpoint.include_answers = body.include_answers
    if "description" in body.model_fields_set:
        endpoint.description = body.description
    endpoint.updated_at = await database_now(db)
    await db.commit()
    if body.enabled:  # even if it was: a repeated request must wake what the first did not
        background.add_task(
            _wake_backlog, delivery_starter(request, temporal, settings), endpoint.id
        )
    return _out(endpoint)


async def _wake_backlog(starter: DeliveryStarter, endpoint_id: uuid.UUID) -> None:
    """One start per (endpoint, stream) pending: thousands after a long outage, so never inside
    the request. A wake-up lost here (the API stopped, Temporal down) is the safety net's: its
    sweep wakes every delivery left pending."""
    try:
        woken = await starter.nudge_endpoint(endpoint_id)
    except Exception:
        log.exception("webhook endpoint %s: its backlog is left to the safety net", endpoint_id)
        return
    log.info("webhook endpoint %s enabled: %d streams woken", endpoint_id, woken)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(endpoint_id: str, caller: AdminCaller, db: DbDep) -> Response:
    """Delete the endpoint with its deliveries; nothing more is sent to it."""
    await db.delete(await get_endpoint(db, endpoint_id, caller.organisation_id))
    await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=_DISABLED,
)
async def ping(
    endpoint_id: str,
    caller: AdminCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    request: Request,
) -> DeliveryOut:
    """Send a signed `ping` event to the endpoint (202: queued; see its deliveries)."""
    endpoint = await get_endpoint(db, endpoint_id, caller.organisation_id)
    record = await queue_ping(db, endpoint)
    await db.commit()
    await delivery_starter(request, temporal, settings).start(
        str(endpoint.id), str(record.event.stream_id)
    )
    return _delivery_out(record, endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList)
async def deliveries(
    endpoint_id: str,
    caller: AdminCaller,
    db: DbDep,
    delivery_status: Annotated[WebhookDeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """The latest deliveries, newest first, each with every attempt and the event sent."""
    endpoint = await get_endpoint(db, endpoint_id, caller.organisation_id)
    records = await list_deliveries(db, endpoint, delivery_status, limit)
    return DeliveryList(items=[_delivery_out(r, endpoint) for r in records])


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    # An empty answer, documented as one (the default would promise a JSON body).
    response_class=Response,
    responses={202: {"description": "Queued again: follow it in the deliveries"}, **_DISABLED},
)
async def redeliver(
    endpoint_id: str,
    delivery_id: str,
    caller: AdminCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Send the event again (same `webhook-id`), in its place among its booking's events."""
    endpoint = await get_endpoint(db, endpoint_id, caller.organisation_id)
    stream_id = await requeue_delivery(db, endpoint, delivery_id)
    await db.commit()
    await delivery_starter(request, temporal, settings).start(str(endpoint.id), str(stream_id))
    return Response(status_code=status.HTTP_202_ACCEPTED)


def _out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=[WebhookEventType(e) for e in endpoint.event_types],
        enabled=endpoint.enabled,
        include_answers=endpoint.include_answers,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _delivery_out(record: DeliveryRecord, endpoint: WebhookEndpoint) -> DeliveryOut:
    """The delivery with the event as the endpoint gets it."""
    delivery, event = record.delivery, record.event
    return DeliveryOut(
        id=delivery.id,
        event_id=event.id,
        event_type=WebhookEventType(event.type),
        sequence=event.sequence,
        status=WebhookDeliveryStatus(delivery.status),
        queued_at=delivery.queued_at,
        delivered_at=delivery.delivered_at,
        attempts=[AttemptOut.model_validate(a, from_attributes=True) for a in record.attempts],
        payload=payload_for(event.payload, endpoint.include_answers),
    )
