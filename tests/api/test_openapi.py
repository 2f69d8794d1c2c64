"""The OpenAPI document declares every answer, problem+json included, and every string a
caller sends carries the rule that keeps it storable."""

import json
import re
from typing import Any

import httpx

from api.openapi import OPERATION_IDS
from schemas.fields import LINES, ONE_LINE, STORABLE
from schemas.organisations import COUNTRY, CURRENCY, PREFIX
from schemas.questions import KEY
from scripts.openapi import DOCUMENT

REQUEST_BODIES = (
    "BookingCreate",
    "CancelIn",
    "OrganisationPatch",
    "RefundIn",
    "PlacesCancelIn",
    "QuestionSetIn",
    "SessionCreate",
    "WebhookEndpointIn",
    "WebhookEndpointPatch",
)
# The strings that may hold more than one line; every other text reaches an email header, a
# PDF, a CSV or a webhook and is one line (no control character).
MULTILINE = {".attendees[].special_requirements", ".answers[].value", ".consents[].text"}


async def document(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_every_operation_declares_its_errors_as_problem_json(api: httpx.AsyncClient) -> None:
    schema = await document(api)
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
    }
    seen = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            seen[f"{method.upper()} {path}"] = statuses
            assert {"422", "500"} <= statuses, (path, method)
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (path, method, status)
    assert seen["POST /v1/bookings"] >= {"201", "401", "404", "409", "413", "422", "502", "503"}
    assert seen["POST /v1/bookings/{booking_id}/cancel"] >= {"200", "202", "404", "409", "503"}
    assert seen["POST /v1/sessions"] >= {"201", "401", "403", "413"}
    assert seen["GET /v1/sessions/{session_id}"] >= {"401", "404", "503"}
    assert seen["POST /v1/webhooks/stripe"] >= {"200", "400", "413", "503"}
    assert "401" not in seen["POST /v1/webhooks/stripe"]
    assert "403" in seen["GET /v1/sessions"]  # a door key reads no sessions
    assert seen["POST /v1/sessions/{session_id}/check-ins"] >= {"200", "403", "404", "422", "503"}
    assert seen["POST /v1/webhook-endpoints"] >= {"201", "401", "403", "413", "422"}
    assert seen["POST /v1/webhook-endpoints/{endpoint_id}/ping"] >= {"202", "404", "409", "503"}
    assert seen["GET /healthz"] == {"200", "422", "500"}
    assert seen["PATCH /v1/organisation"] >= {"200", "401", "403", "409", "413", "422"}
    assert seen["GET /v1/organisation/logo"] >= {"200", "403", "404"}


def strings_of(schema: dict[str, Any], components: dict[str, Any]) -> list[tuple[str, dict]]:
    """Every string schema reachable from `schema`, by a dotted name."""
    found: list[tuple[str, dict]] = []

    def walk(node: Any, name: str) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            walk(components[node["$ref"].rsplit("/", 1)[1]], name)
        if node.get("type") == "string" and node.get("format") not in ("email", "uuid"):
            found.append((name, node))
        for key in ("anyOf", "allOf", "oneOf"):
            for option in node.get(key, []):
                walk(option, name)
        walk(node.get("items"), f"{name}[]")
        for prop, sub in node.get("properties", {}).items():
            walk(sub, f"{name}.{prop}")

    walk(schema, "")
    return found


async def test_every_string_in_a_request_body_refuses_nul_and_controls(
    api: httpx.AsyncClient,
) -> None:
    components = (await document(api))["components"]["schemas"]
    for body in REQUEST_BODIES:
        strings = strings_of(components[body], components)
        assert strings, body
        for name, string in strings:
            if "enum" in string or "const" in string or "format" in string:
                continue
            pattern = string.get("pattern")
            text = LINES if name in MULTILINE else ONE_LINE
            # A time zone is a known IANA name, checked as such.
            text = STORABLE if name.endswith("time_zone") else text
            # Codes, prefixes and keys: letters, digits, hyphens (and underscores) only.
            codes = (CURRENCY, COUNTRY, PREFIX, KEY, "^[A-Z]{1,3}$")
            assert pattern in (text, *codes), (body, name, pattern)


async def test_the_committed_document_is_the_served_one(api: httpx.AsyncClient) -> None:
    served = await document(api)
    committed = json.loads(DOCUMENT.read_text())
    assert committed == served, "openapi.json is stale: run `make openapi` and commit it"


async def test_every_operation_has_a_readable_unique_id(api: httpx.AsyncClient) -> None:
    ids = [
        operation["operationId"]
        for operations in (await document(api))["paths"].values()
        for operation in operations.values()
    ]
    assert sorted(ids) == sorted(OPERATION_IDS.values())  # each used once, none left over
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", id_) for id_ in ids), ids
    assert "getSession" in ids
