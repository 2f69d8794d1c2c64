"""The one polling loop of the tests: real servers answer "not yet" before they answer "done"."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    within: float = 10,
    every: float = 0.1,
    what: str = "the condition",
) -> T:
    """Call `probe` every `every` seconds until `until` holds for what it returned, and return
    that; fail naming `what` and the last value once `within` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {within} s; last seen: {value!r}")
        await asyncio.sleep(every)
