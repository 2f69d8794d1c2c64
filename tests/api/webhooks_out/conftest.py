"""Fixtures of the webhooks-out tests: a receiving server and endpoints registered on it."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.webhooks_out.helpers import ALL_EVENTS
from tests.conftest import ADMIN_KEY, OTHER_ADMIN_KEY, keyed_client
from tests.fakes.webhook_receiver import WebhookReceiver

Register = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


admin = keyed_client("admin", ADMIN_KEY, "The default organisation's admin key.")
other_admin = keyed_client("other_admin", OTHER_ADMIN_KEY, "Another organisation's admin key.")


@pytest.fixture
async def register(admin: httpx.AsyncClient, receiver: WebhookReceiver) -> AsyncIterator[Register]:
    """`await register("shop")`: an endpoint on the receiver, trusted with its secret; every
    endpoint made is deleted at the end, so later tests' bookings are not sent to it."""
    made: list[tuple[httpx.AsyncClient, str]] = []

    async def make(
        name: str,
        events: list[str] | None = None,
        enabled: bool = True,
        client: httpx.AsyncClient | None = None,
    ) -> dict[str, Any]:
        http = client or admin
        response = await http.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url(name), "events": events or ALL_EVENTS, "enabled": enabled},
        )
        assert response.status_code == 201, response.text
        endpoint: dict[str, Any] = response.json()
        receiver.trust(name, endpoint["secret"])
        made.append((http, endpoint["id"]))
        return endpoint

    yield make
    for http, endpoint_id in made:
        await http.delete(f"/v1/webhook-endpoints/{endpoint_id}")
