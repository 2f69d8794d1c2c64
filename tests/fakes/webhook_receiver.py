"""A local HTTP server receiving webhooks as a shop's back end would: it checks each request's
Standard Webhooks signature, records what it accepted in arrival order, and can be told to
fail (a status such as 503, 429 with Retry-After or 410, or a timeout) for a while.

Each endpoint is a path (`receiver.url("shop-a")`) with its own secret (`receiver.trust(...)`).
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.fakes.local_server import LocalHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as it arrived; `accepted` when it was verified and answered 2xx."""

    path: str
    webhook_id: str
    body: dict[str, Any]
    status: int | None  # None: no answer (the sender timed out)
    verified: bool

    @property
    def accepted(self) -> bool:
        return self.verified and self.status is not None and 200 <= self.status < 300

    @property
    def type(self) -> str:
        return str(self.body.get("type"))


@dataclass(frozen=True)
class _Failure:
    status: int | None  # None: answer nothing until the sender gives up (a timeout)
    retry_after: int | None
    delay: float


class WebhookReceiver(LocalHTTPServer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self._requests: list[Received] = []
        self._failures: list[_Failure] = []
        super().__init__(_handler_for(self), "fake-receiver")

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def trust(self, name: str, secret: str) -> None:
        """Verify requests to `name` with `secret` (the one the API returned)."""
        with self._lock:
            self._secrets[f"/{name}"] = secret

    def fail_next(
        self, n: int, status: int | None = 503, *, retry_after: int | None = None, delay: float = 0
    ) -> None:
        """Answer the next `n` requests with `status` (None and a delay: a timeout)."""
        with self._lock:
            self._failures.extend([_Failure(status, retry_after, delay)] * n)

    def requests(self, name: str | None = None) -> list[Received]:
        """Every request (to `name`), oldest first."""
        with self._lock:
            return [r for r in self._requests if name is None or r.path == f"/{name}"]

    def accepted(self, name: str) -> list[Received]:
        return [r for r in self.requests(name) if r.accepted]

    def _verify(self, path: str, raw: bytes, headers: dict[str, str]) -> bool:
        with self._lock:
            secret = self._secrets.get(path)
        if secret is None:
            return False
        try:
            Webhook(secret).verify(raw, headers)
        except WebhookVerificationError:
            return False
        return True

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _record(self, received: Received) -> None:
        with self._lock:
            self._requests.append(received)


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified = receiver._verify(self.path, raw, headers)
            failure = receiver._take_failure()
            status: int | None = 204 if verified else 401
            if failure is not None:
                time.sleep(failure.delay)
                status = failure.status
            receiver._record(
                Received(
                    self.path, headers.get("webhook-id", ""), json.loads(raw), status, verified
                )
            )
            if status is None:
                self.close_connection = True
                return  # the sender timed out long ago
            self.send_response(status)
            if failure is not None and failure.retry_after is not None:
                self.send_header("Retry-After", str(failure.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
