"""Request bodies are limited before they are read (issue 9, case 6): 413 problem+json, by the
declared Content-Length at once, and while streaming, so a 50 MB body is never held."""

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from tests.conftest import CLIENT_KEY

LIMIT = 1024 * 1024  # the default setting
FIFTY_MB = 50 * 1024 * 1024


async def raw_post(
    api_url: str, path: str, headers: dict[str, str], chunks: AsyncIterator[bytes]
) -> tuple[int, dict[str, str], bytes, int]:
    """POST over a bare socket, writing `chunks` until the server answers; returns the status,
    headers, body and how many body bytes had been written when the answer came."""
    url = urlsplit(api_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Authorization: Bearer " + CLIENT_KEY]
    head += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.read(65536))
    sent = 0
    async for chunk in chunks:
        if answer.done():
            break
        try:
            writer.write(chunk)
            await writer.drain()
        except ConnectionError:
            break
        sent += len(chunk)
    raw = await asyncio.wait_for(answer, 10)
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    response_headers = dict(
        line.decode().split(": ", 1) for line in header_block.split(b"\r\n") if b": " in line
    )
    return (
        int(status_line.split()[1]),
        {k.lower(): v for k, v in response_headers.items()},
        body,
        sent,
    )


async def nothing() -> AsyncIterator[bytes]:
    await asyncio.sleep(0.2)  # give the server time to answer before any body byte
    yield b"{"


async def chunked(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`total` bytes of a JSON-looking body in HTTP/1.1 chunked framing."""
    for _ in range(total // size):
        yield f"{size:x}\r\n".encode() + b" " * size + b"\r\n"
        await asyncio.sleep(0)


def assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["type"].endswith("body-too-large")


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read(
    api_url: str,
) -> None:
    for path in ("/v1/bookings", "/v1/webhooks/stripe", "/v1/sessions"):
        headers = {"Content-Type": "application/json", "Content-Length": str(FIFTY_MB)}
        status, response_headers, body, sent = await raw_post(api_url, path, headers, nothing())
        assert_too_large(status, response_headers, body)
        assert sent == 0, path


async def test_a_streamed_body_is_cut_off_soon_after_the_limit(api_url: str) -> None:
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    for path in ("/v1/bookings", "/v1/webhooks/stripe"):
        status, response_headers, body, sent = await raw_post(
            api_url, path, headers, chunked(FIFTY_MB)
        )
        assert_too_large(status, response_headers, body)
        # The answer came while the client was still sending: socket buffers hold the rest.
        assert LIMIT < sent < 16 * LIMIT, sent


async def test_a_body_under_the_limit_is_read(api_url: str) -> None:
    """A large but allowed body reaches validation (422), not the limit."""
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunked(LIMIT // 2):
            yield chunk
        yield b"0\r\n\r\n"

    status, _, response, _ = await raw_post(api_url, "/v1/bookings", headers, body())
    assert status == 422, response
