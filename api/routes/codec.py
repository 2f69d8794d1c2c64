"""The codec server: the Temporal UI and CLI send it encrypted payloads and read them decoded.

Temporal's codec-server protocol: `POST /codec/decode` and `POST /codec/encode` take and answer
`{"payloads": [...]}` in protobuf JSON (metadata values and data in base64), and the UI calls
them from the browser, hence CORS for its origin. Decoded payloads hold personal data: only an
operator may ask (core.settings: operator_token, codec_open_networks).
"""

from collections.abc import Awaitable, Callable, Sequence
from ipaddress import ip_address
from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.deps import SettingsDep, current_operator
from core.errors import InvalidRequest
from core.settings import Settings
from core.temporal import data_converter

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"])
_bearer = HTTPBearer(auto_error=False)

# Protobuf JSON writes bytes as base64, standard or URL-safe, padded or not.
Base64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/_-]*={0,2}$")]


class CodecPayload(BaseModel):
    """A Temporal Payload as protobuf JSON."""

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload]


def operator_only(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """An operator (the operator token, deps.current_operator). While no token is configured,
    outside production, callers from `codec_open_networks` too: the dev UI on loopback."""
    unset = not settings.operator_token and settings.env != "production"
    if unset and _from_open_network(request, settings):
        return
    current_operator(settings, credentials)


def _from_open_network(request: Request, settings: Settings) -> bool:
    try:
        caller = ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(caller in network for network in settings.codec_open_networks)


Operator = Depends(operator_only)
_ANSWERS: dict[int | str, dict[str, str]] = {
    401: {"description": "An operator token is configured and was not given"},
    403: {"description": "No operator token is configured and the caller is not local"},
    422: {"description": "Not payloads, or a payload that does not decrypt"},
}


@router.post("/encode", dependencies=[Operator], responses=_ANSWERS)
async def encode(body: CodecPayloads, settings: SettingsDep) -> CodecPayloads:
    """Encrypt payloads as the worker would (e.g. a signal's input typed into the UI)."""
    return await _convert(body, _codec(settings).encode)


@router.post("/decode", dependencies=[Operator], responses=_ANSWERS)
async def decode(body: CodecPayloads, settings: SettingsDep) -> CodecPayloads:
    """Decrypt payloads for the UI or `temporal workflow show --codec-endpoint`; payloads that
    are not encrypted pass through unchanged."""
    return await _convert(body, _codec(settings).decode)


def _codec(settings: Settings) -> PayloadCodec:
    codec = data_converter(settings).payload_codec
    assert codec is not None
    return codec


async def _convert(
    body: CodecPayloads, convert: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
) -> CodecPayloads:
    try:
        payloads = [json_format.ParseDict(p.model_dump(), Payload()) for p in body.payloads]
        converted = await convert(payloads)
    except (json_format.ParseError, ValueError, KeyError, InvalidTag, DecodeError) as err:
        raise InvalidRequest(f"the payloads cannot be converted: {type(err).__name__}") from None
    return CodecPayloads(payloads=[_as_json(p) for p in converted])


def _as_json(payload: Payload) -> CodecPayload:
    return CodecPayload.model_validate(json_format.MessageToDict(payload))


class CodecCors:
    """CORS for the codec paths only, so the Temporal UI's origins (`codec_cors_origins`) may
    call them from the browser, with credentials; the rest of the API answers no browser."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)
