"""The OpenAPI document declares every answer an operation can give, problem+json included.

Routes declare only their business answers (`responses={409: {...}}`); the answers that follow
from how a route is built are added here: 401, 403 and 429 from its caller dependency, 404 from a
path parameter, 400 and 413 from a body, 422 always (any parameter may be refused), 503 from a
database or Temporal dependency, 500 always. Every error answer gets the Problem schema.

Every operation has a readable id (`getSession`, not FastAPI's generated
`read_one_v1_sessions__session_id__get`), named here in one table: a client generated from the
document gets these as method names, so they change only with a major version. A route missing
from the table fails the document's build. The committed `openapi.json` is this document
(`make openapi` rewrites it; tests/api/test_openapi.py fails while they differ).
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api import deps
from api.problems import MEDIA_TYPE
from schemas.problems import Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_RETRY_AFTER = {
    "description": "Seconds until the key may call again",
    "schema": {"type": "integer"},
}
OPERATION_IDS = {
    "GET /healthz": "getHealth",
    "GET /readyz": "getReadiness",
    "GET /v1/sessions": "listSessions",
    "POST /v1/sessions": "createSession",
    "GET /v1/sessions/{session_id}": "getSession",
    "PATCH /v1/sessions/{session_id}": "updateSession",
    "POST /v1/sessions/{session_id}/cancel": "cancelSession",
    "GET /v1/sessions/{session_id}/questions": "getSessionQuestions",
    "PUT /v1/sessions/{session_id}/questions": "replaceSessionQuestions",
    "GET /v1/sessions/{session_id}/bookings.csv": "getSessionBookingsCsv",
    "POST /v1/sessions/{session_id}/check-ins": "checkIn",
    "POST /v1/sessions/{session_id}/check-ins/batch": "checkInBatch",
    "GET /v1/sessions/{session_id}/attendees": "listAttendees",
    "GET /v1/sessions/{session_id}/attendees.csv": "getAttendeesCsv",
    "GET /v1/bookings": "listBookings",
    "POST /v1/bookings": "createBooking",
    "GET /v1/bookings/{booking_id}": "getBooking",
    "GET /v1/bookings/{booking_id}/receipt.pdf": "getReceiptPdf",
    "GET /v1/bookings/{booking_id}/credit-note.pdf": "getCreditNotePdf",
    "GET /v1/bookings/{booking_id}/refunds": "listRefunds",
    "POST /v1/bookings/{booking_id}/refunds": "refundBooking",
    "POST /v1/bookings/{booking_id}/cancel": "cancelBooking",
    "POST /v1/bookings/{booking_id}/cancel-places": "cancelPlaces",
    "POST /v1/bookings/{booking_id}/move": "moveBooking",
    "GET /v1/bookings/{booking_id}/attendance": "getAttendance",
    "PATCH /v1/bookings/{booking_id}/attendance": "correctAttendance",
    "POST /v1/bookings/{booking_id}/certificates/{attendee_index}/reissue": "reissueCertificate",
    "GET /v1/certificates/{code}": "verifyCertificate",
    "POST /v1/sessions/{session_id}/waiting-list": "joinWaitingList",
    "GET /v1/sessions/{session_id}/waiting-list": "listWaitingList",
    "PATCH /v1/sessions/{session_id}/waiting-list": "updateWaitingList",
    "GET /v1/waiting-list/{entry_id}": "getWaitingListEntry",
    "DELETE /v1/waiting-list/{entry_id}": "leaveWaitingList",
    "POST /v1/waiting-list/{entry_id}/accept": "acceptWaitingListOffer",
    "POST /v1/waiting-list/{entry_id}/decline": "declineWaitingListOffer",
    "GET /v1/organisation": "getOrganisation",
    "PATCH /v1/organisation": "updateOrganisation",
    "GET /v1/organisation/logo": "getOrganisationLogo",
    "POST /v1/customers/export": "exportCustomer",
    "POST /v1/customers/erase": "eraseCustomer",
    "POST /v1/webhooks/stripe": "receiveStripeEvent",
    "GET /v1/webhook-endpoints": "listWebhookEndpoints",
    "POST /v1/webhook-endpoints": "createWebhookEndpoint",
    "GET /v1/webhook-endpoints/{endpoint_id}": "getWebhookEndpoint",
    "PATCH /v1/webhook-endpoints/{endpoint_id}": "updateWebhookEndpoint",
    "DELETE /v1/webhook-endpoints/{endpoint_id}": "deleteWebhookEndpoint",
    "POST /v1/webhook-endpoints/{endpoint_id}/ping": "pingWebhookEndpoint",
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": "listWebhookDeliveries",
    "POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver": (
        "redeliverWebhookDelivery"
    ),
    "POST /codec/encode": "encodePayloads",
    "POST /codec/decode": "decodePayloads",
}
_DESCRIPTIONS = {
    400: "The body cannot be read (not UTF-8 text), or not a signed Stripe event",
    401: "No API key, or an unknown one",
    403: "The API key's role may not do this",
    404: "Not found",
    409: "Refused in the current state",
    413: "The request body is too large",
    422: "A field or parameter is not valid",
    429: "Too many requests for this API key: wait Retry-After seconds",
    500: "An unexpected error (a bug)",
    502: "The payment provider refused",
    503: "The database or Temporal is unavailable; try again",
}


def install(app: FastAPI, routers: list[APIRouter]) -> None:
    """Document `routers` (those the app includes, without a further prefix)."""
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _document_problems(schema, routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_problems(schema: dict[str, Any], routes: list[APIRoute]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            operation["operationId"] = _operation_id(method, route.path_format)
            responses = operation.setdefault("responses", {})
            for status in _implied_statuses(route, operation):
                responses.setdefault(str(status), {})
            for status, response in responses.items():
                if int(status) >= 400:
                    if not response.get("description") or status == "422":
                        response["description"] = _DESCRIPTIONS.get(int(status), "Error")
                    response["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
                if status == "429":
                    response["headers"] = {"Retry-After": _RETRY_AFTER}


def _operation_id(method: str, path: str) -> str:
    try:
        return OPERATION_IDS[f"{method} {path}"]
    except KeyError:
        raise LookupError(f"{method} {path} has no operation id in api/openapi.py") from None


def _implied_statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    calls = set(_calls(route.dependant))
    statuses = {422, 500}
    if deps.current_caller in calls:
        statuses |= {401, 429}  # no key, an unknown or revoked one; over the key's rate limit
    if calls & {deps.require_admin, deps.require_client, deps.require_door}:
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}  # a body that is not even text; one over the size limit
    if calls & {deps.get_db, deps.get_temporal}:
        statuses.add(503)
    return statuses


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)
