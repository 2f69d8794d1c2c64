"""Real servers for the whole test session: PostgreSQL, the Temporal dev server, localstripe,
the API on a real port (so localstripe can deliver webhooks) and a worker.

`--temporal=prod` runs the production-shaped Temporal server instead of the dev server (real
server binary, PostgreSQL persistence and SQL visibility in the session's cluster, several
history shards; devstack/temporal_prod.py): `make test-prod-temporal` builds it and runs a
subset of the suite against it."""

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
from typing import Any

import httpx
import pytest
import stripe
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.payments import make_stripe_client
from api.main import create_app
from core.codec import encrypting_converter
from core.db import make_engine, make_sessionmaker
from core.enums import Role, SessionKind
from core.settings import Settings
from devstack.migrate import migrate
from devstack.ports import free_port, wait_for_port
from devstack.postgres import Cluster
from devstack.temporal_prod import serving
from devstack.temporal_server import (
    SINGLE_HOST_DYNAMIC_CONFIG,
    ServerKind,
    dynamic_config_flags,
    side_ports,
)
from devstack.tools import temporal_cli
from messages import search_attributes
from store.api_keys import key_prefix, secret_hash
from store.catalog import SeatRow, SessionSpec, create_session
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.stack import Stack
from tests.helpers.worker_process import WorkerProcess
from worker import booking_activities
from workflows.registry import build_worker

# Fixtures kept beside their helpers, for the test packages that use them.
pytest_plugins = ["tests.helpers.consistency"]

# API keys, stored hashed in the test database by the `postgres` fixture: the client and admin
# keys of the default organisation (which `new_session` sells for), and those of another.
CLIENT_KEY, ADMIN_KEY = "test-client-key", "test-admin-key"
OTHER_CLIENT_KEY, OTHER_ADMIN_KEY = "test-other-client-key", "test-other-admin-key"
OTHER_ORGANISATION_ID = uuid.UUID("00000000-0000-4000-8000-0000000000b2")
TEST_API_KEY_PEPPER = "test-only api key pepper"
TEST_KEYS = {  # secret -> (stable key id, organisation, role)
    CLIENT_KEY: (uuid.UUID(int=0xC1), DEFAULT_ORGANISATION_ID, Role.CLIENT),
    ADMIN_KEY: (uuid.UUID(int=0xA1), DEFAULT_ORGANISATION_ID, Role.ADMIN),
    OTHER_CLIENT_KEY: (uuid.UUID(int=0xC2), OTHER_ORGANISATION_ID, Role.CLIENT),
    OTHER_ADMIN_KEY: (uuid.UUID(int=0xA2), OTHER_ORGANISATION_ID, Role.ADMIN),
}
CLIENT_KEY_ID = TEST_KEYS[CLIENT_KEY][0]
WEBHOOK_SECRET = "whsec_test_secret"
# Payload encryption in tests: histories recorded by this suite are encrypted with this key,
# and the replay test rotates to a newer one (tests/workflows/test_replay.py).
TEST_PAYLOAD_KEYS = {"test-2026": "dGVzdC1vbmx5IHBheWxvYWQga2V5IGZvciAyMDI2ISE="}
TEST_PAYLOAD_KEY_ID = "test-2026"
# The server holds every timer and retry back to at least this long after it was set (1 s by
# default): a step retried "5 ms later" waits a second, a workflow's 50 ms sleep too. The suite's
# short timings and its retries run out in seconds, so its server keeps time to 10 ms.
TEST_DYNAMIC_CONFIG = (*SINGLE_HOST_DYNAMIC_CONFIG, 'history.timerProcessorMaxTimeShift="10ms"')


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="booking-test-pg-"))
    root.chmod(0o755)  # the postgres user must reach the data folder inside
    cluster = Cluster(root / "data", free_port())
    cluster.init()
    cluster.start(durable=False)
    migrate(cluster.url)
    cluster.psql(_tenants_sql(), database="booking")
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def _tenants_sql() -> str:
    """The second organisation and every test key (the default organisation comes with the
    migrations), as one statement for psql."""
    pepper = TEST_API_KEY_PEPPER
    keys = ", ".join(
        f"('{key_id}', '{organisation}', '{role}', 'test {role} key', "
        f"'{key_prefix(secret, pepper)}', '{secret_hash(secret, pepper)}')"
        for secret, (key_id, organisation, role) in TEST_KEYS.items()
    )
    return (
        "INSERT INTO organisations (id, name, legal_name, email_sender_name,"
        " reference_prefix, receipt_prefix, credit_note_prefix) "
        f"VALUES ('{OTHER_ORGANISATION_ID}', 'Other Organiser', 'Other Organiser Ltd',"
        " 'Other Organiser', 'OO', 'OO-R', 'OO-CN');"
        f"INSERT INTO api_keys (id, organisation_id, role, name, prefix, hash) VALUES {keys};"
    )


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--temporal",
        choices=[kind.value for kind in ServerKind],
        default=ServerKind.DEV.value,
        help="the Temporal server of the suite (prod: built by `make test-prod-temporal`)",
    )


@pytest.fixture(scope="session")
async def temporal_env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    converter = encrypting_converter(TEST_PAYLOAD_KEYS, TEST_PAYLOAD_KEY_ID)
    if request.config.getoption("temporal") == ServerKind.PROD:
        cluster: Cluster = request.getfixturevalue("postgres")
        root = Path(tempfile.mkdtemp(prefix="booking-test-temporal-"))
        with serving(root / "server", cluster, root / "server.log") as server:
            client = await Client.connect(server.address, data_converter=converter)
            yield WorkflowEnvironment.from_client(client)
        shutil.rmtree(root, ignore_errors=True)
        return
    env = await WorkflowEnvironment.start_local(
        data_converter=converter,
        port=free_port(),
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[*dynamic_config_flags(TEST_DYNAMIC_CONFIG), *side_ports()],
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
        api_keys={},  # no bootstrap: the keys are in the database (see `postgres`)
        api_key_pepper=TEST_API_KEY_PEPPER,
        # Far above what the suite sends; the rate limit tests give their keys tiny limits.
        rate_limit_per_minute=1_000_000,
        hold_extension_seconds=1,
        max_hold_extensions=2,
        late_payment_window_seconds=30,
        email_backend="sendgrid",
        sendgrid_host=sendgrid.url,
        sendgrid_api_key=sendgrid.api_key,
        # Webhooks out: seconds instead of three days.
        webhook_retry_first_seconds=0.2,
        webhook_retry_max_interval_seconds=1,
        webhook_retry_window_seconds=5,
        webhook_timeout_seconds=1,
        # Every test's workflows run in the sandbox: a forbidden call fails here, not in prod.
        worker_sandbox=True,
        # The tests' in-process workers stop at once, as before graceful shutdown had a
        # timeout: a test that leaves an activity hanging does not hold up the next one.
        worker_shutdown_grace_seconds=0,
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


def api_client(api_url: str, key: str) -> httpx.AsyncClient:
    """A client of the API authenticated by `key`, to use with `async with`."""
    return httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def keyed_client(name: str, key: str, doc: str) -> Any:
    """The fixture `name`: a client of the API authenticated by `key`, for one test."""

    async def client(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
        async with api_client(api_url, key) as made:
            yield made

    client.__doc__ = doc
    return pytest.fixture(client, name=name)


api = keyed_client("api", CLIENT_KEY, "The default organisation's client key.")
other_api = keyed_client("other_api", OTHER_CLIENT_KEY, "Another organisation's client key.")


@pytest.fixture
def temporal(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def stripe_client(localstripe_url: str) -> stripe.StripeClient:
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
            kind=SessionKind.SEATED if seat_rows else SessionKind.COURSE,
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


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """The test's worker processes (`python worker.py`), killed if the test leaves any running;
    their logs' ends printed after the test."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()
    for log in tmp_path.glob("worker-*.log"):
        print(f"--- {log.name}\n{log.read_text()[-3000:]}")


@pytest.fixture
def stack(
    api: httpx.AsyncClient,
    api_url: str,
    temporal: Client,
    db: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
    sendgrid: FakeSendGrid,
    settings: Settings,
    worker: None,
    new_session: SessionFactory,
) -> Stack:
    """Every server of the session and a client of each (see tests/helpers/stack.py)."""
    return Stack(api, api_url, temporal, db, stripe_client, sendgrid, settings, new_session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first (the order of the rest kept): pytest-xdist's workers (`make test
    TEST_WORKERS=2`) take tests in this order, and a long one taken last would leave the other
    worker idle meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("BOOKING_ENV", "test")
