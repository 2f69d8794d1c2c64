"""Every error leaves the API as RFC 9457 problem+json; this is the one place that maps them."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.errors import ERRORS_BY_TYPE, BookingError

PROBLEM_BASE = "urn:booking-engine:problem:"
MEDIA_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    return JSONResponse({**body, **extra}, status_code=status, media_type=MEDIA_TYPE)


def from_booking_error(err: BookingError) -> JSONResponse:
    return problem(err.status, err.slug, err.title, err.detail, **err.extra)


def as_booking_error(err: WorkflowUpdateFailedError) -> BookingError | None:
    """The business error a workflow update failed with, as the class the API raised it as."""
    cause: BaseException | None = err.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if cause is None or cause.type not in ERRORS_BY_TYPE:
        return None
    extra = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    return ERRORS_BY_TYPE[cause.type](cause.message, **extra)


def install(app: FastAPI) -> None:
    @app.exception_handler(BookingError)
    async def _business(_: Request, err: BookingError) -> JSONResponse:
        return from_booking_error(err)

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
        slug = {401: "unauthenticated", 403: "forbidden", 404: "not-found"}.get(
            err.status_code, "http-error"
        )
        response = problem(err.status_code, slug, str(err.detail), str(err.detail))
        if err.headers:
            response.headers.update(err.headers)
        return response
