"""API variants on their own ports: the session's settings with some changed, or another
Temporal client, for the cases the shared API cannot force (short bounds, Temporal gone)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from api.main import create_app
from core.settings import Settings
from devstack.ports import free_port
from tests.conftest import ADMIN_KEY, CLIENT_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


VariantFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def api_variant(settings: Settings, temporal: Client, worker: None) -> VariantFactory:
    """`async with api_variant(cancel_wait_seconds=0) as api:` a client of such an API."""

    @asynccontextmanager
    async def make(
        *, temporal_client: Client | None = None, **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings.model_copy(update=changes), temporal_client or temporal)
        async with (
            serving(app) as url,
            httpx.AsyncClient(base_url=url, headers=CLIENT, timeout=30) as client,
        ):
            yield client

    return make
