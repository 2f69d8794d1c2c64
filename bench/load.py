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
