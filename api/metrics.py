"""Request counts and latencies for Prometheus, labelled by route template, not raw path.

A plain ASGI middleware: Starlette's BaseHTTPMiddleware would wrap `receive` in a task group,
and the body limit's 413 raised from `receive` would reach the route as another error.
"""

import time

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["method", "route"])


class _Measure:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], template, str(status)).inc()


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(_Measure)
