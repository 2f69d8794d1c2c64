"""A TLS terminator that requires client certificates, in front of a plaintext TCP server.

The Temporal CLI's dev server has no TLS options; with this proxy before it, clients reach it
the way they reach an mTLS Temporal server: they must present a certificate signed by the
given CA, or the handshake fails. Bytes pass through unchanged (gRPC's HTTP/2 included, with
ALPN "h2" offered), so it fronts any TCP server:

`python -m devstack.tls_proxy --target 127.0.0.1:7233 --port 7234 --cert server.pem
--key server-key.pem --client-ca ca.pem`
"""

import argparse
import asyncio
import contextlib
import ssl
from pathlib import Path

_CHUNK = 64 * 1024


def server_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """Present `cert`; accept only clients with a certificate `client_ca` signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    return context


class TlsProxy:
    """The proxy in this event loop: `await start()`, then connect to `address` with TLS."""

    def __init__(self, target: str, context: ssl.SSLContext) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._context = context
        self._server: asyncio.Server | None = None
        self.address = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = await asyncio.start_server(
            self._serve, host, port, ssl=self._context, ssl_handshake_timeout=10
        )
        bound = self._server.sockets[0].getsockname()
        self.address = f"{bound[0]}:{bound[1]}"
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            target_in, target_out = await asyncio.open_connection(*self._target)
        except OSError:
            client_out.close()
            return
        await asyncio.gather(_pipe(client_in, target_out), _pipe(target_in, client_out))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side closes, then close the other."""
    try:
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            sink.close()


async def _serve_forever(target: str, port: int, context: ssl.SSLContext) -> None:
    proxy = TlsProxy(target, context)
    address = await proxy.start(port=port)
    print(f"TLS proxy on {address} -> {target}, client certificates required", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.tls_proxy", description=__doc__)
    parser.add_argument("--target", required=True, help="host:port of the plaintext server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True, help="the proxy's certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    parser.add_argument("--client-ca", type=Path, required=True, help="CA of client certificates")
    args = parser.parse_args()
    context = server_context(args.cert, args.key, args.client_ca)
    asyncio.run(_serve_forever(args.target, args.port, context))


if __name__ == "__main__":
    main()
