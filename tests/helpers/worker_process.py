"""`python worker.py` as a real process, configured by the environment as in a container, with
its health checks on a port of its own: start it, wait until ready, signal it, wait for its exit."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT, Settings
from devstack.ports import free_port
from tests.helpers.environment import environment
from tests.helpers.polling import eventually


class WorkerProcess:
    """One worker process; its log goes to `log`."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.health_url = f"http://127.0.0.1:{free_port()}"
        own = settings.model_copy(
            update={
                "worker_health_address": self.health_url.removeprefix("http://"),
                "worker_metrics_address": f"127.0.0.1:{free_port()}",
            }
        )
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("BOOKING_")}
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT_ROOT,
                env={**inherited, **environment(own), "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def identity(self) -> str:
        """The identity Temporal records for its tasks (the SDK's default, pid@host)."""
        return f"{self._process.pid}@{socket.gethostname()}"

    async def status(self, check: str) -> int | None:
        """The status of GET /healthz or /readyz, None when nothing answers."""
        try:
            async with httpx.AsyncClient(timeout=3) as http:
                return (await http.get(f"{self.health_url}/{check}")).status_code
        except httpx.TransportError:
            return None

    async def ready(self, within: float = 60) -> None:
        async def answer() -> int | None:
            assert self._process.poll() is None, "the worker exited while starting"
            return await self.status("readyz")

        await eventually(answer, lambda s: s == 200, within=within, every=0.2, what="/readyz")

    def send(self, sent: signal.Signals) -> float:
        """Send a signal; returns when (monotonic)."""
        self._process.send_signal(sent)
        return time.monotonic()

    async def exited(self, within: float) -> int:
        """The exit status, once it has exited; fails after `within` seconds."""

        async def code() -> int | None:
            return self._process.poll()  # never blocks

        exit_code = await eventually(
            code,
            lambda code: code is not None,
            within=within,
            every=0.05,
            what="the worker's exit",
        )
        assert exit_code is not None
        return exit_code

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
