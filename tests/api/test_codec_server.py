"""The codec server (api/routes/codec.py) speaks Temporal's codec-server protocol: what the worker
encrypted, it decrypts for an operator, and only for an operator; the Temporal UI's browser
origin may call it."""

import base64
import json
import uuid
from typing import Any

import httpx
from google.protobuf import json_format
from temporalio.client import Client

from core.codec import ENCODING
from messages.booking import booking_workflow_id
from tests.api.conftest import VariantFactory
from tests.helpers.api_bookings import booking_body
from tests.helpers.stack import Stack

UI_ORIGIN = "http://localhost:8233"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def json_payload(value: Any) -> dict[str, Any]:
    """A payload as Temporal's JSON converter writes it, in protobuf JSON."""
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(json.dumps(value).encode())}


def encoding_of(payload: dict[str, Any]) -> bytes:
    return base64.b64decode(payload["metadata"]["encoding"])


async def test_encode_then_decode_gives_the_payloads_back(api: httpx.AsyncClient) -> None:
    sent = [json_payload({"name": "Ada Lovelace"}), json_payload("second")]
    encoded = await api.post("/codec/encode", json={"payloads": sent})
    assert encoded.status_code == 200, encoded.text
    ciphertexts = encoded.json()["payloads"]
    assert [encoding_of(p) for p in ciphertexts] == [ENCODING, ENCODING]
    assert b"Ada" not in base64.b64decode(ciphertexts[0]["data"])

    decoded = await api.post("/codec/decode", json={"payloads": ciphertexts})
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == {"payloads": sent}


async def test_a_payload_the_worker_encrypted_decodes_to_the_customer(stack: Stack) -> None:
    name = f"Hedwig Quarrington {uuid.uuid4().hex[:6]}"
    body = booking_body(
        await stack.new_session(), customer={"name": name, "email": "hq@example.com"}
    )
    created = await stack.api.post("/v1/bookings", json=body)
    assert created.status_code == 201, created.text

    # A client without the codec sees the history as Temporal stores it.
    plain = await Client.connect(
        stack.settings.temporal_address, namespace=stack.settings.temporal_namespace
    )
    history = await plain.get_workflow_handle(
        booking_workflow_id(created.json()["id"])
    ).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    stored = [json_format.MessageToDict(p) for p in started.input.payloads]
    assert name.encode() not in b"".join(base64.b64decode(p["data"]) for p in stored)

    decoded = await stack.api.post(
        "/codec/decode", json={"payloads": stored}, headers={"X-Namespace": "default"}
    )
    assert decoded.status_code == 200, decoded.text
    (workflow_input,) = decoded.json()["payloads"]
    assert encoding_of(workflow_input) == b"json/plain"
    assert json.loads(base64.b64decode(workflow_input["data"]))["request"]["customer_name"] == name


async def test_payloads_in_clear_pass_through_and_garbage_is_refused(
    api: httpx.AsyncClient,
) -> None:
    plain = {"payloads": [json_payload(1)]}
    assert (await api.post("/codec/decode", json=plain)).json() == plain
    forged = {"metadata": {"encoding": b64(ENCODING), "encryption-key-id": b64(b"test-2026")}}
    refused = await api.post(
        "/codec/decode", json={"payloads": [{**forged, "data": b64(b"x" * 40)}]}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        await api.post("/codec/decode", json={"payloads": [{"data": "not base64!"}]})
    ).status_code == 422


async def test_an_operator_token_once_configured_is_required(api_variant: VariantFactory) -> None:
    body = {"payloads": [json_payload("x")]}
    async with api_variant(operator_token="operator-secret") as api:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer test-client-key"},
        ):
            for path in ("/codec/decode", "/codec/encode"):
                answer = await api.post(path, json=body, headers=headers)
                assert answer.status_code == 401, (path, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
        operator = {"Authorization": "Bearer operator-secret"}
        assert (await api.post("/codec/decode", json=body, headers=operator)).status_code == 200


async def test_without_a_token_only_the_open_networks_are_answered(
    api_variant: VariantFactory,
) -> None:
    body = {"payloads": [json_payload("x")]}
    async with api_variant(codec_open_networks=[]) as api:
        assert (await api.post("/codec/decode", json=body)).status_code == 403
    async with api_variant(env="production") as api:
        assert (await api.post("/codec/decode", json=body)).status_code == 403


async def test_the_ui_origin_may_call_it_from_the_browser(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        "/codec/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-namespace", "authorization"} <= set(
        allowed.replace(" ", "").split(",")
    )

    answer = await api.post(
        "/codec/decode",
        json={"payloads": [json_payload(1)]},
        headers={"Origin": UI_ORIGIN, "X-Namespace": "default"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"


async def test_no_other_origin_and_no_other_route_gets_cors(api: httpx.AsyncClient) -> None:
    request = {"Access-Control-Request-Method": "POST"}
    stranger = await api.options(
        "/codec/decode", headers={"Origin": "https://evil.example", **request}
    )
    assert "access-control-allow-origin" not in stranger.headers
    booking_route = await api.options("/v1/bookings", headers={"Origin": UI_ORIGIN, **request})
    assert "access-control-allow-origin" not in booking_route.headers
