"""Shared steps of the webhooks-out tests: wait for what a receiver accepted, list deliveries."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import WebhookEventType
from core.settings import Settings
from models.tables import WebhookEndpoint
from store.organisations import DEFAULT_ORGANISATION_ID
from store.webhook_endpoints import create_endpoint
from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers.polling import eventually

# Every event an endpoint can subscribe to (`ping` is only ever sent, never subscribed to).
ALL_EVENTS = [str(event) for event in WebhookEventType if event != WebhookEventType.PING]


def about(received: list[Received], booking_id: str) -> list[Received]:
    return [r for r in received if r.body["data"].get("booking", {}).get("id") == booking_id]


def accepted_about(
    receiver: WebhookReceiver, name: str, booking_id: str
) -> Callable[[], list[Received]]:
    """What `name` accepted about the booking, as a check for `wait_for`."""
    return lambda: about(receiver.accepted(name), booking_id)


async def wait_for(
    check: Callable[[], list[Received]], count: int, within: float = 20
) -> list[Received]:
    """What `check` returns once it holds at least `count` items."""

    async def found() -> list[Received]:
        return check()

    return await eventually(
        found, lambda got: len(got) >= count, within=within, every=0.05, what=f"{count} received"
    )


async def deliveries(
    admin: httpx.AsyncClient, endpoint_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await admin.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def wait_for_delivery(
    admin: httpx.AsyncClient, endpoint_id: str, delivery_id: str, status: str, within: float = 20
) -> dict[str, Any]:
    async def found() -> list[dict[str, Any]]:
        return [d for d in await deliveries(admin, endpoint_id) if d["id"] == delivery_id]

    [delivery] = await eventually(
        found,
        lambda got: bool(got) and got[0]["status"] == status,
        within=within,
        what=f"the delivery {status}",
    )
    return delivery


async def ping_until(
    admin: httpx.AsyncClient, endpoint_id: str, status: str, within: float = 20
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ping the endpoint: the ping, and its delivery once `status`."""
    ping: dict[str, Any] = (await admin.post(f"/v1/webhook-endpoints/{endpoint_id}/ping")).json()
    return ping, await wait_for_delivery(admin, endpoint_id, ping["id"], status, within)


def seconds_between(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Between two attempts, as the deliveries list times them."""
    later = datetime.fromisoformat(second["attempted_at"])
    return (later - datetime.fromisoformat(first["attempted_at"])).total_seconds()


@asynccontextmanager
async def endpoint_on(
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    receiver: WebhookReceiver,
    name: str,
    events: list[WebhookEventType],
) -> AsyncIterator[uuid.UUID]:
    """An endpoint of the default organisation on the receiver, made straight in the database
    (for tests below the API), trusted with its secret and deleted afterwards."""
    async with db.begin() as session:
        endpoint, secret = await create_endpoint(
            session,
            DEFAULT_ORGANISATION_ID,
            receiver.url(name),
            events,
            settings.webhook_secret_keys,
        )
    receiver.trust(name, secret)
    try:
        yield endpoint.id
    finally:
        async with db.begin() as session:
            await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
