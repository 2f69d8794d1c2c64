"""`booking-ops webhooks`: organisations' webhook endpoints, their deliveries and attempts, and
sending deliveries again (one, every failed one of an endpoint, or every pending one)."""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from activities.webhook_signals import DeliveryStarter
from core.enums import WebhookDeliveryStatus
from core.errors import BookingError
from messages.webhooks import retry_timings
from models.tables import WebhookEndpoint
from ops.commands.display import (
    AsJson,
    console,
    print_json,
    refused,
    table,
    uuid_argument,
)
from ops.commands.runtime import (
    BAD_USAGE,
    database,
    fail,
    run,
    settings_or_exit,
    temporal_client,
)
from ops.readable import when
from store.organisations import OrganisationNotFound, find_organisation
from store.webhook_endpoints import (
    DeliveryRecord,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    requeue_delivery,
)

webhooks = typer.Typer(
    help="Webhook endpoints, their deliveries, and delivering again.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

EndpointId = Annotated[
    str,
    uuid_argument("webhook endpoint", "ENDPOINT_ID"),
]


@webhooks.command()
def endpoints(
    organisation: Annotated[
        str | None, typer.Option("--organisation", "-o", help="Only this organisation's.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every endpoint (never its secret), oldest first."""
    settings = settings_or_exit()

    async def work() -> list[WebhookEndpoint]:
        async with database(settings) as db, db() as s:
            owner = None
            if organisation:
                try:
                    owner = (await find_organisation(s, organisation)).id
                except OrganisationNotFound as err:
                    fail(str(err), BAD_USAGE)
            return list(await list_endpoints(s, owner))

    found = run(work())
    if as_json:
        print_json([_endpoint_json(e) for e in found])
        return
    rows = [
        (e.id, e.organisation_id, e.url, ", ".join(e.event_types), e.enabled, when(e.created_at))
        for e in found
    ]
    columns = ("id", "organisation", "url", "events", "enabled", "created")
    console().print(table(f"{len(found)} endpoint(s)", columns, rows))


@webhooks.command()
def deliveries(
    endpoint_id: EndpointId,
    status: Annotated[
        WebhookDeliveryStatus | None, typer.Option(help="Only deliveries in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """The endpoint's latest deliveries, newest first, with their attempts."""
    settings = settings_or_exit()

    async def work() -> list[DeliveryRecord]:
        async with database(settings) as db, db() as s:
            endpoint = await _endpoint(s, endpoint_id)
            return await list_deliveries(s, endpoint, status, limit)

    found = run(work())
    if as_json:
        print_json([_delivery_json(r) for r in found])
        return
    rows = [
        (
            r.delivery.id,
            r.event.id,
            r.event.type,
            r.event.stream_id,
            r.event.sequence,
            r.delivery.status,
            len(r.attempts),
            _last_answer(r),
        )
        for r in found
    ]
    columns = ("id", "webhook-id", "type", "about", "seq", "status", "attempts", "last answer")
    console().print(table(f"{len(found)} delivery(ies)", columns, rows))


@webhooks.command()
def redeliver(
    endpoint_id: EndpointId,
    delivery_ids: Annotated[
        list[str] | None,
        uuid_argument("delivery", "[DELIVERY_ID]..."),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every failed delivery of the endpoint.")
    ] = False,
) -> None:
    """Send deliveries again (same webhook-id), each in its place among its booking's events."""
    if bool(delivery_ids) == failed:
        fail("name delivery ids or give --failed, not both", BAD_USAGE)
    settings = settings_or_exit()

    async def work() -> int:
        async with database(settings) as db:
            async with db.begin() as s:
                endpoint = await _endpoint(s, endpoint_id)
                ids = delivery_ids or [
                    str(r.delivery.id)
                    for r in await list_deliveries(
                        s, endpoint, WebhookDeliveryStatus.FAILED, 10_000
                    )
                ]
                try:
                    streams = {await requeue_delivery(s, endpoint, key) for key in ids}
                except BookingError as err:
                    refused(err)
            starter = DeliveryStarter(
                db, await temporal_client(settings), settings.task_queue, retry_timings(settings)
            )
            for stream in streams:
                await starter.start(str(endpoint.id), str(stream))
            return len(ids)

    typer.echo(f"{run(work())} delivery(ies) queued again")


@webhooks.command()
def resume() -> None:
    """Wake the delivery of every pending delivery of every enabled endpoint (after Temporal
    was down, or deliveries were changed in the database by hand)."""
    settings = settings_or_exit()

    async def work() -> int:
        async with database(settings) as db:
            starter = DeliveryStarter(
                db, await temporal_client(settings), settings.task_queue, retry_timings(settings)
            )
            return await starter.nudge_all()

    typer.echo(f"{run(work())} delivery workflow(s) woken")


async def _endpoint(s: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    try:
        return await get_endpoint(s, endpoint_id)
    except BookingError as err:
        refused(err)


def _last_answer(record: DeliveryRecord) -> str:
    if not record.attempts:
        return ""
    last = record.attempts[-1]
    return f"{last.status_code or last.error} at {when(last.attempted_at)}"


def _endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": str(endpoint.id),
        "organisation_id": str(endpoint.organisation_id),
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_types,
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def _delivery_json(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": str(record.delivery.id),
        "event_id": record.event.id,
        "event_type": record.event.type,
        "stream_id": str(record.event.stream_id),
        "sequence": record.event.sequence,
        "status": record.delivery.status,
        "queued_at": record.delivery.queued_at,
        "delivered_at": record.delivery.delivered_at,
        "attempts": [
            {
                "attempted_at": a.attempted_at,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in record.attempts
        ],
    }
