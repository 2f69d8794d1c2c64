"""The concurrent driver (bounded in count and time) and the percentile math."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

PERCENTILE_METHOD = "nearest rank: the smallest sample with at least p % of samples at or below it"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of `values` (nan when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class Latency:
    """Percentiles of a set of durations, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Latency":
        ms = [s * 1000 for s in seconds]
        return cls(
            len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), max(ms, default=0)
        )


@dataclass
class Run(Generic[T]):
    """What `drive` returns: one result per call made, and the wall time they took together."""

    results: list[T]
    wall_seconds: float

    @property
    def per_second(self) -> float:
        return len(self.results) / self.wall_seconds if self.wall_seconds else 0.0


async def drive(
    count: int, concurrency: int, call: Callable[[int], Awaitable[T]], time_limit: float
) -> Run[T]:
    """Make at most `count` calls, `concurrency` at a time; none starts after `time_limit` s."""
    results: list[T] = []
    indexes = iter(range(count))
    started = time.perf_counter()
    deadline = started + time_limit

    async def lane() -> None:
        for i in indexes:  # one iterator shared by every lane: each index is used once
            if time.perf_counter() > deadline:
                return
            results.append(await call(i))

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return Run(results, time.perf_counter() - started)


@dataclass
class Arrival(Generic[T]):
    """One open-loop call: when it was due (s after the first) and how long until it answered,
    counted from when it was due, so a late start is part of its latency."""

    due: float
    seconds: float
    result: T


@dataclass
class OpenRun(Generic[T]):
    """What `arrive` returns: the calls that answered, how many never did, the backlog."""

    rate: float
    duration: float
    arrivals: list[Arrival[T]]
    unanswered: int
    # (seconds since the first call was due, calls due but not answered yet), every BACKLOG_EVERY
    backlog: list[tuple[float, int]]

    @property
    def backlog_growth(self) -> float:
        """Calls per second by which the backlog grew over the second half of the schedule
        (least-squares slope; a system that keeps up stays near 0)."""
        half = [(t, n) for t, n in self.backlog if t >= self.duration / 2]
        if len(half) < 2:
            return 0.0
        mean_t = sum(t for t, _ in half) / len(half)
        mean_n = sum(n for _, n in half) / len(half)
        spread = sum((t - mean_t) ** 2 for t, _ in half)
        return sum((t - mean_t) * (n - mean_n) for t, n in half) / spread if spread else 0.0


BACKLOG_EVERY = 0.25


async def arrive(
    rate: float, duration: float, call: Callable[[int], Awaitable[T]], drain: float
) -> OpenRun[T]:
    """Open loop: call i is due `i / rate` s after the first and starts then, whether or not
    earlier calls have answered (no coordinated omission). Calls still unanswered `drain` s
    after the last was due are cancelled and counted as unanswered."""
    count = max(1, round(rate * duration))
    arrivals: list[Arrival[T]] = []
    backlog: list[tuple[float, int]] = []
    started = time.perf_counter()

    async def one(i: int) -> None:
        result = await call(i)
        arrivals.append(Arrival(i / rate, time.perf_counter() - started - i / rate, result))

    async def watch() -> None:
        while True:
            now = time.perf_counter() - started
            due = min(count, math.floor(now * rate) + 1)
            backlog.append((now, due - len(arrivals)))
            await asyncio.sleep(BACKLOG_EVERY)

    watcher = asyncio.create_task(watch())
    tasks = []
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    watcher.cancel()
    _, pending = await asyncio.wait(tasks, timeout=drain)
    for task in pending:
        task.cancel()
    await asyncio.gather(watcher, *pending, return_exceptions=True)
    return OpenRun(rate, duration, arrivals, len(pending), backlog)
