"""Brings the whole system up in a fresh temporary folder on free ports, and always down again."""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT
from devstack.migrate import migrate
from devstack.ports import free_port, wait_for_port
from devstack.postgres import Cluster
from devstack.temporal_server import SINGLE_HOST_DYNAMIC_CONFIG, start_dev_args
from devstack.tools import temporal_cli

STARTUP_SECONDS = 90.0
BOOKING_QUEUE = "bench-bookings"
BASELINE_QUEUE = "bench-empty"


@dataclass
class Stack:
    """Where the running servers answer, and the pids whose memory we watch."""

    api_url: str
    api_key: str
    temporal_address: str
    stripe_url: str
    database_url: str
    pids: dict[str, int]
    dynamic_config: tuple[str, ...]
    inherited_settings: dict[str, str] = field(default_factory=dict)


@contextmanager
def running(dynamic_config: tuple[str, ...] = SINGLE_HOST_DYNAMIC_CONFIG) -> Iterator[Stack]:
    """Start every component; on the way out (success, error or Ctrl-C) stop them all."""
    with ExitStack() as cleanup:
        cleanup.callback(signal.signal, signal.SIGINT, signal.getsignal(signal.SIGINT))
        root = Path(tempfile.mkdtemp(prefix="booking-bench-"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        root.chmod(0o755)  # the postgres user must reach its data folder inside
        launcher = _Launcher(root, cleanup)
        try:
            yield _start(launcher, dynamic_config)
        except Exception:
            launcher.print_log_tails()
            raise
        finally:
            # A second Ctrl-C must not cut the teardown short and leave servers behind.
            cleanup.callback(signal.signal, signal.SIGINT, signal.SIG_IGN)


class _Launcher:
    """Starts processes logging into the run's folder; `cleanup` stops them in reverse order."""

    def __init__(self, root: Path, cleanup: ExitStack) -> None:
        self.root = root
        self.cleanup = cleanup
        self.logs = root / "logs"
        self.logs.mkdir()
        # The workflow sandbox imports workflows/ afresh for every new workflow: without
        # bytecode (PYTHONDONTWRITEBYTECODE=1, as in the Dockerfile) each booking recompiles it.
        # Bytecode is cached in our folder, so results do not depend on the caller's environment.
        self.python_env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
            "PYTHONUNBUFFERED": "1",
        }

    def postgres(self) -> str:
        """A private cluster, migrated; its URL."""
        cluster = Cluster(self.root / "postgres", free_port())
        self.cleanup.callback(cluster.stop)
        cluster.init()
        cluster.start(durable=False)
        migrate(cluster.url)
        return cluster.url

    def spawn(self, name: str, *argv: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        self.cleanup.callback(log.close)
        process = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        self.cleanup.callback(_stop, process)
        return process

    def python(
        self, name: str, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.spawn(name, sys.executable, *argv, env={**self.python_env, **(env or {})})

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def print_log_tails(self, lines: int = 15) -> None:
        for log in sorted(self.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            print(f"--- last lines of {log.name} ---", *tail, sep="\n", file=sys.stderr)


def _start(launcher: _Launcher, dynamic_config: tuple[str, ...]) -> Stack:
    database_url = launcher.postgres()
    temporal_port, stripe_port, api_port = free_port(), free_port(), free_port()
    temporal_address = f"127.0.0.1:{temporal_port}"
    api_url, stripe_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{stripe_port}"
    webhook_secret = f"whsec_bench_{secrets.token_hex(8)}"
    api_key = f"bench-{secrets.token_hex(8)}"

    temporal = launcher.spawn(
        "temporal",
        str(temporal_cli()),
        *start_dev_args(dynamic_config),
        *("--ip", "127.0.0.1", "--port", str(temporal_port), "--headless", "--log-level", "warn"),
        env=dict(os.environ),
    )
    localstripe = launcher.python(
        "localstripe",
        *("-m", "devstack.localstripe_server", "--port", str(stripe_port), "--store", "none"),
        *("--webhook", f"{api_url}/v1/webhooks/stripe", "--secret", webhook_secret),
    )
    _wait_until(lambda: _listens(temporal_port), temporal, "the Temporal dev server")
    _wait_until(lambda: _listens(stripe_port), localstripe, "localstripe")

    settings = {
        "BOOKING_ENV": "dev",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_TEMPORAL_ADDRESS": temporal_address,
        "BOOKING_TASK_QUEUE": BOOKING_QUEUE,
        "BOOKING_STRIPE_API_KEY": "sk_test_localstripe",
        "BOOKING_STRIPE_API_BASE": stripe_url,
        "BOOKING_STRIPE_WEBHOOK_SECRET": webhook_secret,
        "BOOKING_API_KEYS": json.dumps({api_key: "client"}),
        "BOOKING_OUTBOX_DIR": str(launcher.root / "outbox"),
        "BOOKING_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    worker = launcher.python("worker", "worker.py", env=settings)
    baseline = launcher.python(
        "baseline", "-m", "bench.baseline", temporal_address, BASELINE_QUEUE, env=settings
    )
    api = launcher.python(
        "api",
        *("-m", "uvicorn", "api.main:create_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(api_port)),
        env=settings,
    )
    _wait_until(lambda: "polling task queue" in launcher.log("worker"), worker, "the worker")
    _wait_until(lambda: "polling task queue" in launcher.log("baseline"), baseline, "baseline")
    _wait_until(lambda: _healthy(api_url), api, "the API")
    return Stack(
        api_url=api_url,
        api_key=api_key,
        temporal_address=temporal_address,
        stripe_url=stripe_url,
        database_url=database_url,
        pids={"worker": worker.pid, "api": api.pid},
        dynamic_config=dynamic_config,
        inherited_settings={
            k: v for k, v in os.environ.items() if k.startswith("BOOKING_") and k not in settings
        },
    )


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not ready after {STARTUP_SECONDS:.0f} s")
        time.sleep(0.1)


def _listens(port: int) -> bool:
    try:
        wait_for_port(port, timeout=0.1)
    except TimeoutError:
        return False
    return True


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
