"""Resident memory of our subprocesses from /proc (VmRSS now, VmHWM the peak), in MB (10^6 B)."""

import asyncio
from dataclasses import dataclass
from pathlib import Path


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / 1e6  # the kernel counts in KiB
    raise ValueError(f"/proc/{pid}/status has no {field}")


@dataclass
class Footprint:
    """One process's memory: the kernel's peak RSS (VmHWM) and the largest RSS we sampled."""

    peak_rss_mb: float = 0.0
    max_sampled_rss_mb: float = 0.0
    samples: int = 0


class MemorySampler:
    """Samples VmRSS of named processes every `interval` s while running, then reads VmHWM."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self._pids = pids
        self._interval = interval
        self.footprints = {name: Footprint() for name in pids}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "MemorySampler":
        self._task = asyncio.create_task(self._sample_forever())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._sample(peak=True)

    async def _sample_forever(self) -> None:
        while True:
            self._sample(peak=False)
            await asyncio.sleep(self._interval)

    def _sample(self, *, peak: bool) -> None:
        for name, pid in self._pids.items():
            footprint = self.footprints[name]
            footprint.samples += 1
            rss = _status_mb(pid, "VmRSS")
            footprint.max_sampled_rss_mb = max(footprint.max_sampled_rss_mb, rss)
            if peak:
                footprint.peak_rss_mb = _status_mb(pid, "VmHWM")
