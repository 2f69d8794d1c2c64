"""Shared steps of the webhooks-out tests: wait for what a receiver accepted, list deliveries."""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from tests.fakes.webhook_receiver import Received

ALL_EVENTS = [
    "booking.created",
    "booking.confirmed",
    "booking.expired",
    "booking.cancelled",
    "booking.refunded",
    "session.cancelled",
]


def about(received: list[Received], booking_id: str) -> list[Received]:
    return [r for r in received if r.body["data"].get("booking", {}).get("id") == booking_id]


async def wait_for(
    check: Callable[[], list[Received]], count: int, within: float = 20
) -> list[Received]:
    """What `check` returns once it holds at least `count` items."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(found)} of {count}: {[r.type for r in found]}")
        await asyncio.sleep(0.05)


async def deliveries(
    admin: httpx.AsyncClient, endpoint_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await admin.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def wait_for_delivery(
    admin: httpx.AsyncClient, endpoint_id: str, delivery_id: str, status: str, within: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        found = [d for d in await deliveries(admin, endpoint_id) if d["id"] == delivery_id]
        if found and found[0]["status"] == status:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery is {found[0]['status'] if found else 'gone'}")
        await asyncio.sleep(0.1)


def seconds_between(first: dict[str, Any], second: dict[str, Any]) -> float:
    """Between two attempts, as the deliveries list times them."""
    later = datetime.fromisoformat(second["attempted_at"])
    return (later - datetime.fromisoformat(first["attempted_at"])).total_seconds()
