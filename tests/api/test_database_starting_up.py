"""A PostgreSQL that refuses connections while it starts up or shuts down is a 503 the client
may retry, never a 500: an API pointed at a server that answers every connection the way
PostgreSQL does then (an ErrorResponse with its SQLSTATE, through the real asyncpg driver)."""

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from devstack.ports import free_port
from tests.api.conftest import VariantFactory

# What a client sends before its startup message to ask for TLS or GSS encryption.
_ENCRYPTION_REQUESTS = {80877103, 80877104}

RefusingServer = Callable[[str, str], AbstractAsyncContextManager[str]]


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + text.encode() + b"\0"
        for code, text in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes
) -> None:
    """Decline encryption, read the startup message, answer it with the error and hang up."""
    try:
        while True:
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if struct.unpack("!i", body[:4])[0] not in _ENCRYPTION_REQUESTS:
                break
            writer.write(b"N")
        writer.write(answer)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
def refusing_postgres() -> RefusingServer:
    """`async with refusing_postgres(sqlstate, message) as database_url:`"""

    @asynccontextmanager
    async def serve(sqlstate: str, message: str) -> AsyncIterator[str]:
        answer = _error_response(sqlstate, message)
        port = free_port()
        server = await asyncio.start_server(lambda r, w: _refuse(r, w, answer), "127.0.0.1", port)
        async with server:
            yield f"postgresql+asyncpg://booking:secret@127.0.0.1:{port}/booking"

    return serve


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P03", "the database system is shutting down"),
        ("57P01", "terminating connection due to administrator command"),
        ("53300", "sorry, too many clients already"),
        ("08006", "connection failure"),
    ],
)
async def test_a_database_not_ready_is_a_503_to_retry(
    api_variant: VariantFactory, refusing_postgres: RefusingServer, sqlstate: str, message: str
) -> None:
    async with (
        refusing_postgres(sqlstate, message) as database_url,
        api_variant(database_url=database_url) as api,
    ):
        response = await api.get(f"/v1/bookings/{uuid.uuid4()}")

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(":service-unavailable")
    assert response.headers["retry-after"]


async def test_a_database_refusing_our_password_is_our_500(
    api_variant: VariantFactory, refusing_postgres: RefusingServer
) -> None:
    """A wrong configuration is no outage to wait out."""
    async with (
        refusing_postgres("28P01", 'password authentication failed for user "booking"') as url,
        api_variant(database_url=url) as api,
    ):
        response = await api.get(f"/v1/bookings/{uuid.uuid4()}")

    assert response.status_code == 500, response.text
    assert response.json()["type"].endswith(":internal-error")
