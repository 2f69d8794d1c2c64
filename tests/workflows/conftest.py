"""Fixtures of the workflow tests: short timings, workers of a test's own, quiet webhooks."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from tests.conftest import WEBHOOK_SECRET
from tests.helpers.workflow_bookings import QUICK
from worker import booking_activities
from workflows.registry import build_worker

OwnWorker = Callable[..., Awaitable[Settings]]


@pytest.fixture
def quick(settings: Settings, worker: None) -> Settings:
    """The session worker's task queue, with short timings in each workflow's input."""
    return settings.model_copy(update=QUICK)


def activity_name(function: Callable[..., Any]) -> str:
    return function.__temporal_activity_definition.name  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def own_worker(temporal: Client, settings: Settings) -> AsyncIterator[OwnWorker]:
    """Starts a worker on a fresh task queue, with activities replaced by name and settings
    changed; returns the settings that start bookings on it. Stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(*replacements: Callable[..., Any], **changes: Any) -> Settings:
            own = settings.model_copy(
                update={"task_queue": f"workflow-test-{uuid.uuid4()}", **QUICK, **changes}
            )
            replaced = {activity_name(r) for r in replacements}
            activities = [
                a
                for a in booking_activities(own, stack, temporal)
                if activity_name(a) not in replaced
            ]
            await stack.enter_async_context(
                build_worker(temporal, own, [*activities, *replacements])
            )
            return own

        yield start


@pytest.fixture
async def no_webhooks(localstripe_url: str, api_url: str) -> AsyncIterator[None]:
    """localstripe sends its webhooks nowhere during the test: only the test tells the booking
    about payments (localstripe posts each one a second after the event, then reads where)."""

    async def send_webhooks_to(url: str) -> None:
        async with httpx.AsyncClient() as http:
            registered = await http.post(
                f"{localstripe_url}/_config/webhooks/api",
                data={"url": url, "secret": WEBHOOK_SECRET},
            )
            registered.raise_for_status()

    await send_webhooks_to("http://127.0.0.1:9/nowhere")
    try:
        yield
        await asyncio.sleep(1.5)  # the test's last payment's webhook is gone by now
    finally:
        await send_webhooks_to(f"{api_url}/v1/webhooks/stripe")
