"""The whole system as subprocesses in a fresh temporary folder on free ports, always brought
down again; each piece can be killed, stopped and started again (bench, chaos tests).

PostgreSQL, Temporal (the dev server, or the production-shaped server of
devstack/temporal_prod.py with its databases in the same cluster), localstripe, the worker and
the API, and optionally a fault proxy (devstack/fault_proxy.py) between our processes and Stripe
or SendGrid.
Over 300 lines: one launcher for five kinds of process with their readiness checks, shared by
the bench and the chaos test so both measure and break the same system.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT
from devstack.fault_proxy import Faults, ProxyControl
from devstack.migrate import migrate
from devstack.ports import free_port, wait_for_port
from devstack.postgres import Cluster
from devstack.temporal_prod import ProdTemporal
from devstack.temporal_server import (
    SINGLE_HOST_DYNAMIC_CONFIG,
    ServerKind,
    side_ports,
    start_dev_args,
)
from devstack.tools import temporal_cli

LOG_CONFIG = str(PROJECT_ROOT / "core" / "logging.json")
STARTUP_SECONDS = 90.0
WORKER_READY = "polling task queue"


@dataclass(frozen=True)
class StackOptions:
    task_queue: str = "bookings"
    temporal: ServerKind = ServerKind.DEV
    # The dev server's dynamic config (the production-shaped server keeps its defaults).
    dynamic_config: tuple[str, ...] = SINGLE_HOST_DYNAMIC_CONFIG
    folder_prefix: str = "booking-stack-"
    # Temporal keeps its state in a SQLite file of the run, so restart_temporal() loses nothing.
    persistent_temporal: bool = False
    # Our processes reach localstripe through a fault proxy (customers still reach it directly).
    stripe_faults: Faults | None = None
    # Email through a SendGrid v3 server at this URL (else .eml files in the run's outbox).
    sendgrid_url: str | None = None
    sendgrid_api_key: str = ""
    sendgrid_faults: Faults | None = None
    seed: int = 0
    # Copy every process's log here when the stack comes down (the run's folder is deleted).
    keep_logs: Path | None = None
    # More BOOKING_* settings for the worker and the API.
    settings: Mapping[str, str] = field(default_factory=dict)


class Service:
    """One subprocess that can be started, killed and started again, logging to one file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        ready: Callable[["Service"], bool],
    ) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self._ready = ready
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} never started"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            )

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready(self):
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process else None
                raise RuntimeError(f"{self.name} exited with status {code} while starting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} was not ready after {timeout:.0f} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        if self.running:
            assert self._process is not None
            self._process.kill()
            self._process.wait()

    def stop(self, grace: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        if not self.running:
            return
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, down_seconds: float = 0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.wait_ready()

    def log(self) -> str:
        """What it wrote since it was last started."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")


def listens(port: int) -> Callable[[Service], bool]:
    def ready(_: Service) -> bool:
        try:
            wait_for_port(port, timeout=0.1)
        except TimeoutError:
            return False
        return True

    return ready


def logged(text: str) -> Callable[[Service], bool]:
    return lambda service: text in service.log()


def healthy(url: str) -> Callable[[Service], bool]:
    def ready(_: Service) -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


class Stack:
    """Where the running servers answer, and handles to stop and start each of them."""

    def __init__(self, root: Path, options: StackOptions, cleanup: ExitStack) -> None:
        self.root, self.options, self._cleanup = root, options, cleanup
        self.logs = root / "logs"
        self.logs.mkdir()
        self.services: dict[str, Service] = {}
        self.api_key = f"client-{secrets.token_hex(8)}"
        self.admin_key = f"admin-{secrets.token_hex(8)}"
        self.webhook_secret = f"whsec_stack_{secrets.token_hex(8)}"
        self.api_url = self.temporal_address = self.stripe_url = self.database_url = ""
        self.stripe_proxy: ProxyControl | None = None
        self.sendgrid_proxy: ProxyControl | None = None
        self.postgres: Cluster | None = None
        self.settings: dict[str, str] = {}
        # A sandboxed worker imports workflows/ afresh for every new workflow: without bytecode
        # (PYTHONDONTWRITEBYTECODE=1, as in the Dockerfile) each booking would recompile it.
        # Bytecode is cached in our folder, so results do not depend on the caller's environment.
        self.python_env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
            "PYTHONUNBUFFERED": "1",
        }

    # ---- what bench reports -----------------------------------------------------------------

    @property
    def pids(self) -> dict[str, int]:
        """The processes whose memory the bench watches."""
        return {name: self.services[name].pid for name in ("worker", "api")}

    @property
    def server_pids(self) -> dict[str, int]:
        """Every server of the stack by name, PostgreSQL's postmaster included."""
        assert self.postgres is not None
        running = {name: s.pid for name, s in self.services.items() if s.running}
        return running | {"postgres": self.postgres.pid}

    @property
    def dynamic_config(self) -> tuple[str, ...]:
        return self.options.dynamic_config

    @property
    def inherited_settings(self) -> dict[str, str]:
        """BOOKING_* settings of our environment that the stack did not set itself."""
        return {
            k: v
            for k, v in os.environ.items()
            if k.startswith("BOOKING_") and k not in self.settings
        }

    # ---- processes ----------------------------------------------------------------------------

    def service(
        self,
        name: str,
        argv: list[str],
        ready: Callable[[Service], bool],
        env: dict[str, str] | None = None,
    ) -> Service:
        """A process of this stack (not started yet), stopped when the stack comes down."""
        service = Service(name, argv, env or dict(os.environ), self.logs / f"{name}.log", ready)
        self.services[name] = service
        self._cleanup.callback(service.stop)
        return service

    def python_service(
        self, name: str, *argv: str, ready: Callable[[Service], bool], settings: bool = True
    ) -> Service:
        """A Python process; `settings` gives it the stack's BOOKING_* settings."""
        env = {**self.python_env, **(self.settings if settings else {})}
        return self.service(name, [sys.executable, *argv], ready, env)

    def restart_temporal(self, down_seconds: float = 0) -> None:
        assert self.options.persistent_temporal, "an in-memory Temporal would lose every workflow"
        self.services["temporal"].restart(down_seconds)

    def restart_postgres(self, down_seconds: float = 0) -> None:
        """Stop the cluster (fast shutdown) and start it again on the same data folder."""
        assert self.postgres is not None
        self.postgres.stop()
        time.sleep(down_seconds)
        self.postgres.start(durable=False)

    def kill_worker(self) -> None:
        self.services["worker"].kill()

    def start_worker(self) -> None:
        worker = self.services["worker"]
        worker.start()
        worker.wait_ready()

    def print_log_tails(self, lines: int = 15) -> None:
        for log in sorted(self.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            print(f"--- last lines of {log.name} ---", *tail, sep="\n", file=sys.stderr)

    # ---- start-up -----------------------------------------------------------------------------

    def start(self) -> None:
        self.database_url = self._start_postgres()
        stripe_port, api_port = free_port(), free_port()
        self.api_url, self.stripe_url = (
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{stripe_port}",
        )

        if self.options.temporal is ServerKind.PROD:
            temporal, prod = self._prod_temporal()
        else:
            temporal, prod = self._dev_temporal(), None
        localstripe = self.python_service(
            "localstripe",
            *("-m", "devstack.localstripe_server", "--port", str(stripe_port), "--store", "none"),
            *("--webhook", f"{self.api_url}/v1/webhooks/stripe", "--secret", self.webhook_secret),
            ready=listens(stripe_port),
            settings=False,
        )
        starting = [temporal, localstripe]
        stripe_base, self.stripe_proxy = self._proxy(
            "stripe-proxy", self.stripe_url, self.options.stripe_faults, starting
        )
        sendgrid_base = self.options.sendgrid_url
        if sendgrid_base is not None:
            sendgrid_base, self.sendgrid_proxy = self._proxy(
                "sendgrid-proxy", sendgrid_base, self.options.sendgrid_faults, starting
            )
        for service in starting:
            service.start()
        for service in starting:
            service.wait_ready()
        if prod is not None:
            prod.register(lambda: temporal.running)

        self.settings = self._settings(stripe_base, sendgrid_base)
        worker = self.python_service("worker", "worker.py", ready=logged(WORKER_READY))
        api = self.python_service(
            "api",
            *("-m", "uvicorn", "api.main:create_app", "--factory", "--log-config", LOG_CONFIG),
            *("--host", "127.0.0.1", "--port", str(api_port)),
            ready=healthy(self.api_url),
        )
        for service in (worker, api):
            service.start()
        for service in (worker, api):
            service.wait_ready()

    def _dev_temporal(self) -> Service:
        port = free_port()
        self.temporal_address = f"127.0.0.1:{port}"
        args = ["--ip", "127.0.0.1", "--port", str(port), "--headless", *side_ports()]
        if self.options.persistent_temporal:
            args += ["--db-filename", str(self.root / "temporal.db")]
        return self.service(
            "temporal",
            [
                str(temporal_cli()),
                *start_dev_args(self.options.dynamic_config),
                *args,
                *("--log-level", "warn"),
            ],
            listens(port),
        )

    def _prod_temporal(self) -> tuple[Service, ProdTemporal]:
        """The production-shaped server, its databases in our cluster (persistent by nature)."""
        assert self.postgres is not None
        server = ProdTemporal(self.root / "temporal", self.postgres)
        server.prepare()
        self.temporal_address = server.address
        return self.service("temporal", server.argv(), listens(server.ports["frontend"])), server

    def _start_postgres(self) -> str:
        """A private cluster, migrated; its URL."""
        cluster = Cluster(self.root / "postgres", free_port())
        self._cleanup.callback(cluster.stop)
        cluster.init()
        cluster.start(durable=False)
        migrate(cluster.url)
        self.postgres = cluster
        return cluster.url

    def _proxy(
        self, name: str, target: str, faults: Faults | None, starting: list[Service]
    ) -> tuple[str, ProxyControl | None]:
        """The URL our processes should use for `target`, and the proxy's control if any."""
        if faults is None:
            return target, None
        port = free_port()
        proxy = self.python_service(
            name,
            *("-m", "devstack.fault_proxy", "--target", target, "--port", str(port)),
            *("--seed", str(self.options.seed), "--faults", faults.to_json()),
            ready=listens(port),
            settings=False,
        )
        starting.append(proxy)
        url = f"http://127.0.0.1:{port}"
        return url, ProxyControl(url)

    def _settings(self, stripe_base: str, sendgrid_base: str | None) -> dict[str, str]:
        settings = {
            "BOOKING_ENV": "dev",
            "BOOKING_DATABASE_URL": self.database_url,
            "BOOKING_TEMPORAL_ADDRESS": self.temporal_address,
            "BOOKING_TASK_QUEUE": self.options.task_queue,
            "BOOKING_STRIPE_API_KEY": "sk_test_localstripe",
            "BOOKING_STRIPE_API_BASE": stripe_base,
            "BOOKING_STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "BOOKING_API_KEYS": json.dumps({self.api_key: "client", self.admin_key: "admin"}),
            # The bench and the chaos test load the engine through one key: counted, never limited.
            "BOOKING_RATE_LIMIT_PER_MINUTE": str(10**9),
            "BOOKING_OUTBOX_DIR": str(self.root / "outbox"),
            "BOOKING_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
            "BOOKING_WORKER_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
        }
        if sendgrid_base is not None:
            settings |= {
                "BOOKING_EMAIL_BACKEND": "sendgrid",
                "BOOKING_SENDGRID_HOST": sendgrid_base,
                "BOOKING_SENDGRID_API_KEY": self.options.sendgrid_api_key,
            }
        return settings | dict(self.options.settings)


@contextmanager
def running(options: StackOptions | None = None) -> Iterator[Stack]:
    """Start every component; on the way out (success, error or Ctrl-C) stop them all."""
    options = options or StackOptions()
    with ExitStack() as cleanup:
        cleanup.callback(signal.signal, signal.SIGINT, signal.getsignal(signal.SIGINT))
        root = Path(tempfile.mkdtemp(prefix=options.folder_prefix))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        root.chmod(0o755)  # the postgres user must reach its data folder inside
        if options.keep_logs is not None:
            cleanup.callback(_copy_logs, root / "logs", options.keep_logs)
        stack = Stack(root, options, cleanup)
        try:
            stack.start()
            yield stack
        except Exception:
            stack.print_log_tails()
            raise
        finally:
            # A second Ctrl-C must not cut the teardown short and leave servers behind.
            cleanup.callback(signal.signal, signal.SIGINT, signal.SIG_IGN)


def _copy_logs(logs: Path, destination: Path) -> None:
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(logs, destination)
