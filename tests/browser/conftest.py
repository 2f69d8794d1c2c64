"""A Temporal dev server of its own for the browser tests, with the Web UI on and pointed at the
codec server of an API served for it, and a worker on it: the session's server has no UI."""

import asyncio
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.settings import PROJECT_ROOT, Settings
from core.temporal import connect
from devstack.ports import free_port, wait_for_port
from devstack.temporal_server import dynamic_config_flags
from devstack.tools import temporal_cli
from messages import search_attributes
from worker import booking_activities
from workflows.registry import build_worker

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/bootstrap.sh); no browser download
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts" / "browser"


@dataclass(frozen=True)
class UiStack:
    ui_url: str  # the Temporal Web UI, e.g. http://127.0.0.1:PORT
    api_url: str  # the API whose codec server the UI calls
    settings: Settings  # the test settings, pointed at this stack's Temporal server
    client: Client  # encrypts payloads, as every process of the project does


@pytest.fixture(scope="module")
async def ui_stack(settings: Settings) -> AsyncIterator[UiStack]:
    # The API's socket is bound first, so no port the dev server picks can take it.
    api_socket = socket.socket()
    api_socket.bind(("127.0.0.1", 0))
    api_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    ui_port = free_port()
    ui_url = f"http://127.0.0.1:{ui_port}"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=search_attributes.ALL,
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=[*dynamic_config_flags(), "--ui-codec-endpoint", f"{api_url}/codec"],
    )
    async with AsyncExitStack() as stack:
        stack.callback(api_socket.close)
        stack.push_async_callback(env.shutdown)
        ui_settings = settings.model_copy(
            update={
                "temporal_address": env.client.service_client.config.target_host,
                "task_queue": f"bookings-ui-{uuid.uuid4()}",
                "codec_cors_origins": [ui_url],
            }
        )
        client = await connect(ui_settings)
        worker = build_worker(client, ui_settings, booking_activities(ui_settings, stack, client))
        await stack.enter_async_context(worker)
        await stack.enter_async_context(_serving(create_app(ui_settings, client), api_socket))
        wait_for_port(ui_port)
        yield UiStack(ui_url, api_url, ui_settings, client)


@asynccontextmanager
async def _serving(app: FastAPI, bound: socket.socket) -> AsyncIterator[None]:
    """The API on a socket bound beforehand: the dev server was told its port at start."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    task = asyncio.create_task(server.serve(sockets=[bound]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's screenshots
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs the tests as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()
