"""Health checks over HTTP for an orchestrator's probes (the worker's; the API has its own).

GET /healthz answers 200 while the process's event loop answers: a liveness probe restarts a
process that no longer does. GET /readyz answers 200 only while `ready()` says so, else 503:
a readiness probe (or a rolling update) waits for it, and a stopping process turns it off.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

Ready = Callable[[], Awaitable[bool]]


@asynccontextmanager
async def serving_health(address: str, ready: Ready) -> AsyncIterator[str]:
    """Serve the checks on `address` (host:port; port 0 picks one) until the block ends;
    yields the URL they answer on."""
    host, _, port = address.rpartition(":")

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def readiness(_: web.Request) -> web.Response:
        if await ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    app = web.Application()
    app.router.add_get("/healthz", live)
    app.router.add_get("/readyz", readiness)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host.strip("[]"), int(port))
        await site.start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
