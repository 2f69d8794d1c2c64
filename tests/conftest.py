"""Real servers for the whole test session: PostgreSQL, the Temporal dev server, localstripe,
the API on a real port (so localstripe can deliver webhooks) and a worker."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.payments import make_stripe_client
from api.main import create_app
from core.codec import encrypting_converter
from core.db import make_engine, make_sessionmaker
from core.settings import Settings
from devstack.migrate import migrate
from devstack.ports import free_port, wait_for_port
from devstack.postgres import Cluster
from devstack.temporal_server import dynamic_config_flags
from devstack.tools import temporal_cli
from models import search_attributes
from models.catalog import SeatRow, SessionSpec, create_session
from tests.fakes.sendgrid_server import FakeSendGrid
from worker import booking_activities, build_worker

CLIENT_KEY, ADMIN_KEY = "test-client-key", "test-admin-key"
WEBHOOK_SECRET = "whsec_test_secret"
# Payload encryption in tests: histories recorded by this suite are encrypted with this key,
# and the replay test rotates to a newer one (tests/workflows/test_replay.py).
TEST_PAYLOAD_KEYS = {"test-2026": "dGVzdC1vbmx5IHBheWxvYWQga2V5IGZvciAyMDI2ISE="}
TEST_PAYLOAD_KEY_ID = "test-2026"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="booking-test-pg-"))
    root.chmod(0o755)  # the postgres user must reach the data folder inside
    cluster = Cluster(root / "data", free_port())
    cluster.init()
    cluster.start(durable=False)
    migrate(cluster.url)
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.localstripe_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=encrypting_converter(TEST_PAYLOAD_KEYS, TEST_PAYLOAD_KEY_ID),
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=dynamic_config_flags(),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid("SG.test-key") as server:
        yield server


@pytest.fixture(scope="session")
def settings(
    postgres: Cluster,
    localstripe_url: str,
    temporal_env: WorkflowEnvironment,
    sendgrid: FakeSendGrid,
) -> Settings:
    return Settings(
        env="test",
        database_url=postgres.url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        payload_keys=TEST_PAYLOAD_KEYS,
        payload_key_id=TEST_PAYLOAD_KEY_ID,
        task_queue=f"bookings-{uuid.uuid4()}",
        stripe_api_key="sk_test_localstripe",
        stripe_api_base=localstripe_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        api_keys={CLIENT_KEY: "client", ADMIN_KEY: "admin"},
        hold_extension_seconds=1,
        max_hold_extensions=2,
        late_payment_window_seconds=30,
        email_backend="sendgrid",
        sendgrid_host=sendgrid.url,
        sendgrid_api_key=sendgrid.api_key,
    )


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def worker(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        running = build_worker(
            temporal_env.client, settings, booking_activities(settings, stack, temporal_env.client)
        )
        async with running:
            yield


@pytest.fixture(scope="session")
async def api_url(
    settings: Settings, temporal_env: WorkflowEnvironment, localstripe_url: str, worker: None
) -> AsyncIterator[str]:
    """The API on a real port, registered as localstripe's webhook endpoint."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, temporal_env.client), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        registered = await http.post(
            f"{localstripe_url}/_config/webhooks/api",
            data={"url": f"{url}/v1/webhooks/stripe", "secret": WEBHOOK_SECRET},
        )
        registered.raise_for_status()
    yield url
    server.should_exit = True
    await task


@pytest.fixture
async def api(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def temporal(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def stripe_client(localstripe_url: str):  # type: ignore[no-untyped-def]
    return make_stripe_client("sk_test_localstripe", localstripe_url)


SessionFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def new_session(db: async_sessionmaker[AsyncSession]) -> SessionFactory:
    """Make a fresh bookable session per test, so tests never share places."""

    async def make(
        capacity: int = 12,
        *,
        hold_seconds: int = 600,
        seat_rows: list[SeatRow] | None = None,
        price_amount: int = 7500,
        starts_in: timedelta = timedelta(days=30),
        duration: timedelta = timedelta(hours=8),
    ) -> str:
        starts = (datetime.now(UTC) + starts_in).replace(microsecond=0)
        spec = SessionSpec(
            kind="seated" if seat_rows else "course",
            title="Emergency First Aid at Work",
            location="London",
            starts_at=starts,
            ends_at=starts + duration,
            price_amount=price_amount,
            currency="GBP",
            capacity=None if seat_rows else capacity,
            seat_map=seat_rows or [],
            hold_seconds=hold_seconds,
        )
        async with db.begin() as session:
            created = await create_session(session, spec)
        return str(created.id)

    return make


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("BOOKING_ENV", "test")
