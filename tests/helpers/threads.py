"""Synchronous test drivers (hypothesis, schemathesis) run beside the event loop that serves
the API they call."""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


async def in_own_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a thread of its own, not the loop's shared pool: CPython
    3.11 can fail to parse source ("AST constructor recursion depth mismatch") in a pool thread
    that other code used before, and hypothesis reads the source of what it runs first."""
    with ThreadPoolExecutor(max_workers=1) as own_thread:
        return await asyncio.get_running_loop().run_in_executor(
            own_thread, partial(function, *args, **kwargs)
        )
