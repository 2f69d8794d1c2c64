"""An HTTP reverse proxy that injects faults, for putting Stripe and SendGrid on a bad day.

`python -m devstack.fault_proxy --target http://127.0.0.1:8420 --port 8421 --seed 7
--faults '{"error_before": 0.05, "reset_after": 0.02}'` forwards every request to the target,
except that each request draws one fault (or none) with the given probabilities:

- `*_before`: the request never reaches the target (5xx, 429 with Retry-After, a hang past
  the client's timeout, or a connection reset);
- `*_after`: the target acted, then its answer is lost (replaced by a 5xx, a hang or a reset),
  which is the case that tests idempotency.

A switch turns the target "down" (every request reset) for outage windows. Draws come from one
seeded generator, in arrival order. Control endpoints, never faulted, live under `/__proxy__/`:
`GET stats`, `POST down`, `POST up`, `PUT faults` (a JSON object like `--faults`).
"""

import argparse
import asyncio
import json
import random
import socket
import struct
from collections import Counter
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

import httpx
from aiohttp import ClientSession, ClientTimeout, web

CONTROL_PREFIX = "/__proxy__/"
# Headers that describe one hop, not the message: never copied across the proxy.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class Fault(StrEnum):
    ERROR_BEFORE = "error_before"
    THROTTLE_BEFORE = "throttle_before"
    HANG_BEFORE = "hang_before"
    RESET_BEFORE = "reset_before"
    ERROR_AFTER = "error_after"
    HANG_AFTER = "hang_after"
    RESET_AFTER = "reset_after"
    DOWN = "down"  # not drawn: every request while the target is switched down


_BEFORE = {Fault.ERROR_BEFORE, Fault.THROTTLE_BEFORE, Fault.HANG_BEFORE, Fault.RESET_BEFORE}


@dataclass
class Faults:
    """Per-request probabilities of each fault (their sum at most 1), and how faults behave."""

    error_before: float = 0.0
    throttle_before: float = 0.0
    hang_before: float = 0.0
    reset_before: float = 0.0
    error_after: float = 0.0
    hang_after: float = 0.0
    reset_after: float = 0.0
    # A hang holds the request this long, then resets it: set it past the client's timeout.
    hang_seconds: float = 12.0
    retry_after_seconds: int = 1
    # Every request waits this long before anything else happens to it: a slow target, or a
    # call held in flight while a test acts (tests/deploy/test_worker_shutdown.py).
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        total = sum(getattr(self, f) for f in Fault if f != Fault.DOWN)
        if total > 1 or any(getattr(self, f) < 0 for f in Fault if f != Fault.DOWN):
            raise ValueError(f"fault probabilities must be >= 0 and sum to <= 1, not {total}")

    @classmethod
    def from_json(cls, text: str) -> "Faults":
        data = json.loads(text or "{}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class FaultProxy:
    """The proxy in this event loop: `await start()`, then point clients at `url`."""

    def __init__(self, target: str, faults: Faults | None = None, seed: int = 0) -> None:
        self.target = target.rstrip("/")
        self.faults = faults or Faults()
        self.down = False
        self.counts: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()  # "POST /v1/payment_intents": requests seen
        self._random = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._upstream: ClientSession | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # No timeout of our own: the hang faults are the only hangs we want to add.
        self._upstream = ClientSession(
            auto_decompress=False, timeout=ClientTimeout(total=None, sock_connect=5)
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.url = f"http://{bound[0]}:{bound[1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._upstream is not None:
            await self._upstream.close()

    def stats(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "down": self.down, "faults": asdict(self.faults)}

    def draw(self) -> Fault | None:
        """One fault, or None, with the configured probabilities."""
        roll, edge = self._random.random(), 0.0
        for fault in Fault:
            if fault == Fault.DOWN:
                continue
            edge += getattr(self.faults, fault)
            if roll < edge:
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        body = await request.read()
        self.counts["requests"] += 1
        self.paths[f"{request.method} {request.path}"] += 1
        if self.faults.delay_seconds:
            await asyncio.sleep(self.faults.delay_seconds)
        if self.down:
            self.counts[Fault.DOWN] += 1
            return _reset(request)
        fault = self.draw()
        if fault in _BEFORE:
            self.counts[fault] += 1
            return await self._fail(request, fault)
        try:
            answer = await self._forward(request, body)
        except OSError:  # aiohttp's client errors are OSErrors: the target is unreachable
            self.counts["upstream_unreachable"] += 1
            return web.Response(status=502, text="the proxy could not reach the target")
        self.counts["forwarded"] += 1
        if fault is not None:
            self.counts[fault] += 1
            return await self._fail(request, fault)
        return answer

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._upstream is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._upstream.request(
            request.method,
            self.target + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=upstream.status, body=content, headers=kept)

    async def _fail(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault in (Fault.ERROR_BEFORE, Fault.ERROR_AFTER):
            status = self._random.choice([500, 502, 503, 504])
            return web.json_response({"error": {"message": f"injected {status}"}}, status=status)
        if fault == Fault.THROTTLE_BEFORE:
            return web.json_response(
                {"error": {"message": "injected rate limit"}},
                status=429,
                headers={"Retry-After": str(self.faults.retry_after_seconds)},
            )
        if fault in (Fault.HANG_BEFORE, Fault.HANG_AFTER):
            # The client gives up first (and its disconnect cancels us), or we reset.
            await asyncio.sleep(self.faults.hang_seconds)
        return _reset(request)

    async def _control(self, request: web.Request) -> web.Response:
        action = request.path.removeprefix(CONTROL_PREFIX)
        if request.method == "POST" and action in ("down", "up"):
            self.down = action == "down"
        elif request.method == "PUT" and action == "faults":
            try:
                self.faults = Faults.from_json(await request.text())
            except (ValueError, TypeError) as err:
                return web.json_response({"error": str(err)}, status=400)
        elif not (request.method == "GET" and action == "stats"):
            return web.json_response({"error": "unknown control request"}, status=404)
        return web.json_response(self.stats())


def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection with a TCP RST, as a crashed server or a middlebox would."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # Nothing can be written any more; aiohttp notices the closed transport and moves on.
    raise asyncio.CancelledError


class ProxyControl:
    """Drives a proxy running in another process, through its control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def counts(self) -> dict[str, int]:
        return dict(self.stats()["counts"])

    def set_down(self, down: bool) -> None:
        self._call("POST", "down" if down else "up")

    def set_faults(self, faults: Faults) -> None:
        self._call("PUT", "faults", content=faults.to_json())

    def _call(self, method: str, action: str, **kwargs: Any) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}{CONTROL_PREFIX}{action}", timeout=5, **kwargs)
        response.raise_for_status()
        return dict(response.json())


async def _serve(target: str, port: int, faults: Faults, seed: int) -> None:
    proxy = FaultProxy(target, faults, seed)
    url = await proxy.start(port=port)
    print(f"fault proxy on {url} -> {target}, seed {seed}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.fault_proxy", description=__doc__)
    parser.add_argument("--target", required=True, help="URL the requests are forwarded to")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default="{}", help="JSON object of Faults fields")
    args = parser.parse_args()
    asyncio.run(_serve(args.target, args.port, Faults.from_json(args.faults), args.seed))


if __name__ == "__main__":
    main()
