"""Request bodies are limited before they are read: by Content-Length up front, and while
streaming, so an oversized body is never held in memory (the Stripe webhook's included)."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI lets HTTP exceptions through to the problem handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        if _declared_length(scope) > self.max_bytes:
            await _refuse(too_large, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as err:  # read outside a route (a middleware): answer here
            if started:
                raise
            await _refuse(err, scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server refuses a malformed length itself
    return 0


async def _refuse(err: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(413, "body-too-large", "The request body is too large", str(err.detail))
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
