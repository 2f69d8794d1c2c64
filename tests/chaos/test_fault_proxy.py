"""The fault proxy: each fault does what it says, before or after the target acted."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from devstack.fault_proxy import Fault, FaultProxy, Faults, ProxyControl


class Target:
    """A server that records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.json_response({"path": request.path_qs}, headers={"X-Target": "yes"})


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    server = Target()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    await runner.cleanup()


async def _proxy(target: Target, always: Fault | None = None) -> FaultProxy:
    """A proxy to `target` that injects `always` into every request (or nothing)."""
    faults = Faults(hang_seconds=0.5)
    if always is not None:
        setattr(faults, always, 1.0)
    proxy = FaultProxy(target.url, faults, seed=1)
    await proxy.start()
    return proxy


async def _post(url: str, timeout: float = 2) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await client.post(f"{url}/v1/things?x=1", content=b"payload")


async def test_forwards_method_path_body_and_headers(target: Target) -> None:
    proxy = await _proxy(target)
    response = await _post(proxy.url)
    await proxy.close()
    assert response.status_code == 200
    assert response.json() == {"path": "/v1/things?x=1"}
    assert response.headers["X-Target"] == "yes"
    assert target.bodies == [b"payload"]
    assert proxy.counts == {"requests": 1, "forwarded": 1}


@pytest.mark.parametrize(
    ("fault", "reached"),
    [(Fault.ERROR_BEFORE, 0), (Fault.ERROR_AFTER, 1)],
)
async def test_server_errors_before_and_after(target: Target, fault: Fault, reached: int) -> None:
    proxy = await _proxy(target, fault)
    response = await _post(proxy.url)
    await proxy.close()
    assert response.status_code in (500, 502, 503, 504)
    assert len(target.bodies) == reached
    assert proxy.counts[fault] == 1


async def test_throttle_says_when_to_retry(target: Target) -> None:
    proxy = await _proxy(target, Fault.THROTTLE_BEFORE)
    response = await _post(proxy.url)
    await proxy.close()
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")
    assert target.bodies == []


@pytest.mark.parametrize(
    ("fault", "reached"),
    [(Fault.RESET_BEFORE, 0), (Fault.RESET_AFTER, 1), (Fault.HANG_AFTER, 1)],
)
async def test_resets_and_hangs_lose_the_answer(target: Target, fault: Fault, reached: int) -> None:
    proxy = await _proxy(target, fault)
    with pytest.raises(httpx.TransportError):
        await _post(proxy.url)
    await proxy.close()
    assert len(target.bodies) == reached
    assert proxy.counts[fault] == 1


async def test_a_hang_outlasts_the_client_timeout(target: Target) -> None:
    proxy = await _proxy(target, Fault.HANG_BEFORE)
    proxy.faults.hang_seconds = 5
    with pytest.raises(httpx.TimeoutException):
        await _post(proxy.url, timeout=0.3)
    await proxy.close()
    assert target.bodies == []


async def test_same_seed_same_draws() -> None:
    faults = Faults(error_before=0.2, reset_after=0.1, throttle_before=0.1)
    first, second = FaultProxy("http://x", faults, seed=42), FaultProxy("http://x", faults, 42)
    draws = [first.draw() for _ in range(500)]
    assert draws == [second.draw() for _ in range(500)]
    share = draws.count(Fault.ERROR_BEFORE) / len(draws)
    assert 0.14 < share < 0.26
    assert draws.count(None) > 250


async def test_down_and_up_through_the_control_endpoints(target: Target) -> None:
    proxy = await _proxy(target)
    control = ProxyControl(proxy.url)
    await asyncio.to_thread(control.set_down, True)
    with pytest.raises(httpx.TransportError):
        await _post(proxy.url)
    await asyncio.to_thread(control.set_down, False)
    assert (await _post(proxy.url)).status_code == 200
    await asyncio.to_thread(control.set_faults, Faults(error_before=1.0))
    assert (await _post(proxy.url)).status_code >= 500
    counts = await asyncio.to_thread(control.counts)
    await proxy.close()
    assert counts == {"requests": 3, "down": 1, "forwarded": 1, "error_before": 1}


def test_probabilities_are_checked() -> None:
    with pytest.raises(ValueError):
        Faults(error_before=0.7, reset_after=0.5)
    with pytest.raises(ValueError):
        Faults.from_json('{"eror_before": 0.1}')
    assert Faults.from_json(Faults(hang_after=0.25).to_json()) == Faults(hang_after=0.25)
