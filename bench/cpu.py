"""CPU time of the stack's processes from /proc, read around each scenario.

A process's CPU is its own user + system time, the time of its children it has reaped (cutime,
cstime) and that of its living descendants: PostgreSQL is the postmaster and every backend
it forked, a worker that runs more processes counts them all. The load driver (this process) is
counted alone: the servers are its children too.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, int, int, int]:
    """(ppid, utime, stime, cutime, cstime) in clock ticks; the name may hold spaces."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                tree.setdefault(_stat(int(entry.name))[0], []).append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue  # it exited while we looked
    return tree


def _tree_ticks(pid: int, tree: Mapping[int, list[int]]) -> int:
    try:
        _, utime, stime, cutime, cstime = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return utime + stime + cutime + cstime + sum(_tree_ticks(c, tree) for c in tree.get(pid, []))


def snapshot(pids: Mapping[str, int], driver: str = "load driver") -> dict[str, float]:
    """CPU seconds so far of each named process tree, and of this process alone as `driver`."""
    tree = _children()
    seconds = {name: _tree_ticks(pid, tree) / TICKS for name, pid in pids.items()}
    _, utime, stime, _, _ = _stat(os.getpid())
    return seconds | {driver: (utime + stime) / TICKS}


@dataclass
class CpuWindow:
    """CPU seconds each process spent during one scenario, and per unit of work completed."""

    units: int
    seconds: dict[str, float]

    @property
    def per_unit_ms(self) -> dict[str, float]:
        return {
            name: s * 1000 / self.units if self.units else 0.0 for name, s in self.seconds.items()
        }


class CpuMeter:
    """Made before a scenario; `window(units)` after it gives the CPU each process spent."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = pids
        self._before = snapshot(pids)

    def window(self, units: int) -> CpuWindow:
        after = snapshot(self._pids)
        return CpuWindow(units, {name: after[name] - self._before[name] for name in after})


OURS = ("API", "worker", "Temporal", "PostgreSQL")
NOT_OURS = ("localstripe", "load driver")
