"""Every error leaves the API as RFC 9457 problem+json; this is the one place that maps them."""

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from temporalio.client import (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from core.db import is_unreachable
from core.errors import BookingError, WorkflowEnded

PROBLEM_BASE = "urn:booking-engine:problem:"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    429: "rate-limited",
}
# Temporal answers these while it restarts, is overloaded or cannot be reached: try again.
_RPC_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNKNOWN,
}
# The database or Temporal could not be reached (connection refused, pool exhausted ...).
_UNREACHABLE = (
    OSError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    return JSONResponse({**body, **extra}, status_code=status, media_type=MEDIA_TYPE)


def from_booking_error(err: BookingError) -> JSONResponse:
    return problem(err.status, err.slug, err.title, err.detail, **err.extra)


def is_unavailable(err: BaseException) -> bool:
    """Whether `err` says a service the API needs is down for now (a retry may succeed)."""
    if isinstance(err, RPCError):
        return err.status in _RPC_UNAVAILABLE or _workflow_not_ready(err)
    if isinstance(err, _UNREACHABLE):
        return True
    return isinstance(err, sqlalchemy.exc.DBAPIError) and is_unreachable(err)


def _workflow_not_ready(err: RPCError) -> bool:
    """Temporal refuses an update while the workflow's last task failed (a worker killed or
    restarted mid-task, an update that came with other work): the next task clears it."""
    return err.status == RPCStatusCode.FAILED_PRECONDITION and any(
        detail.type_url.endswith("WorkflowNotReadyFailure") for detail in err.grpc_status.details
    )


def unavailable(what: str) -> JSONResponse:
    response = problem(503, "service-unavailable", "A service the API needs is unavailable", what)
    response.headers["Retry-After"] = "5"
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(BookingError)
    async def _business(_: Request, err: BookingError) -> JSONResponse:
        return from_booking_error(err)

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_failed(request: Request, err: WorkflowUpdateFailedError) -> JSONResponse:
        """An update that failed for no business reason: its workflow closed or failed."""
        log.warning("%s %s: update failed: %r", request.method, request.url.path, err.cause)
        return from_booking_error(WorkflowEnded(str(err.cause or err)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "The request is not valid",
            f"{len(errors)} field(s) are not valid",
            errors=errors,
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, err: HTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(err.status_code, "http-error")
        response = problem(err.status_code, slug, str(err.detail), str(err.detail))
        if err.headers:
            response.headers.update(err.headers)
        return response

    async def _failure(request: Request, err: Exception) -> JSONResponse:
        """Temporal or the database down is a 503; anything else is our bug, a logged 500."""
        if is_unavailable(err):
            log.warning("%s %s: unavailable: %r", request.method, request.url.path, err)
            return unavailable(type(err).__name__)
        log.error("%s %s: unexpected error", request.method, request.url.path, exc_info=err)
        return problem(500, "internal-error", "Internal error", "an unexpected error occurred")

    # The named kinds are answered inside the app; any other exception by the outermost
    # handler, which re-raises it to the server after answering.
    for kind in (RPCError, *_UNREACHABLE, sqlalchemy.exc.DBAPIError, Exception):
        app.add_exception_handler(kind, _failure)  # type: ignore[arg-type]
