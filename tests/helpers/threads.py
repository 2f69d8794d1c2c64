"""Synchronous test drivers (hypothesis, schemathesis) run beside the event loop that serves
the API they call.

CPython 3.11 can fail to parse source in a thread ("SystemError: AST constructor recursion depth
mismatch"), and pytest parses the source of every module of a pytest plugin's distribution
(schemathesis, hypothesis) when it is first imported, to rewrite its asserts: such a driver's
modules are imported in the main thread first (`import_modules_of`), and the driver runs in a
thread of its own (`in_own_thread`), not the loop's shared pool."""

import asyncio
import importlib
import pkgutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


async def in_own_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as own_thread:
        return await asyncio.get_running_loop().run_in_executor(
            own_thread, partial(function, *args, **kwargs)
        )


def import_modules_of(package: ModuleType, skipping: tuple[str, ...] = ()) -> None:
    """Every module of `package` imported now, but those whose names contain one of `skipping`
    (parts the test does not use, or that need packages not installed)."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if not any(part in module.name for part in skipping):
            importlib.import_module(module.name)
