"""The bench's measuring parts: open-loop arrivals, backlog growth, CPU from /proc, and the
production-shaped server's config."""

import asyncio
import subprocess
import sys
from pathlib import Path

import yaml

from bench.cpu import snapshot
from bench.load import Latency, OpenRun, arrive
from bench.open_loop import Ladder, Step, climb
from devstack.postgres import Cluster
from devstack.temporal_prod import HISTORY_SHARDS, ProdTemporal


async def test_open_loop_calls_start_when_due_not_when_earlier_ones_answer() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def call(i: int) -> int:
        started.append(i)
        await release.wait()  # nothing answers until every call has started
        return i

    async def open_gate() -> None:
        while len(started) < 10:
            await asyncio.sleep(0.01)
        release.set()

    gate = asyncio.create_task(open_gate())
    run = await arrive(rate=100, duration=0.1, call=call, drain=30)
    await gate

    assert started == list(range(10))
    assert sorted(a.result for a in run.arrivals) == list(range(10))
    assert run.unanswered == 0
    # Latency counts from when each call was due: the first waited for the last to start.
    first = next(a for a in run.arrivals if a.result == 0)
    last_due = max(a.due for a in run.arrivals)
    assert first.seconds >= last_due


async def test_calls_still_unanswered_after_the_drain_are_counted() -> None:
    async def never(i: int) -> int:
        await asyncio.Event().wait()
        return i

    run = await arrive(rate=50, duration=0.1, call=never, drain=0.05)

    assert run.unanswered == 5
    assert run.arrivals == []


def test_backlog_growth_is_the_slope_over_the_second_half() -> None:
    growing: OpenRun[None] = OpenRun(10, 4, [], 0, [(t / 4, 3 * t // 4) for t in range(17)])
    flat: OpenRun[None] = OpenRun(10, 4, [], 0, [(t / 4, 5) for t in range(17)])

    assert abs(growing.backlog_growth - 3) < 0.3
    assert flat.backlog_growth == 0


def test_cpu_of_a_process_tree_counts_its_children() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {burn!r}])\n"
        "print('done', flush=True)\n"
        "time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "done\n"
        seconds = snapshot({"parent": parent.pid})
    finally:
        parent.kill()
        parent.wait()

    assert seconds["parent"] >= 0.3  # the child's CPU, reaped into the parent's cutime
    assert seconds["load driver"] > 0


def test_prod_server_config(tmp_path: Path) -> None:
    server = ProdTemporal(tmp_path, Cluster(tmp_path / "pg", 5999))
    config = yaml.safe_load(server.config())

    assert config["persistence"]["numHistoryShards"] == HISTORY_SHARDS > 1
    stores = config["persistence"]["datastores"]
    assert {store["sql"]["databaseName"] for store in stores.values()} == {
        "temporal",
        "temporal_visibility",
    }
    assert config["persistence"]["visibilityStore"] in stores
    services = config["services"]
    assert set(services) == {"frontend", "history", "matching", "worker"}
    # The server's cluster_membership table stores membership ports in a smallint.
    assert all(s["rpc"]["membershipPort"] < 2**15 for s in services.values())
    assert services["frontend"]["rpc"]["grpcPort"] == int(server.address.rsplit(":", 1)[1])


def _step_at(rate: float, p95_ms: float) -> Step:
    return Step(rate, 8, 80, 80, 0, rate, Latency(80, 50, p95_ms, p95_ms, p95_ms), 0.0, 0, {})


async def _climbed(limit: float) -> tuple[Ladder, list[float]]:
    """A ladder over a system whose p95 stays low up to `limit` calls per second."""
    tried: list[float] = []

    async def run_step(rate: float) -> Step:
        tried.append(rate)
        return _step_at(rate, 100 if rate <= limit else 900)

    return await climb("test", 20, run_step), tried


async def test_the_ladder_climbs_to_the_first_failure_then_halfway_back() -> None:
    ladder, tried = await _climbed(limit=16)

    assert tried == [5, 10, 15, 20, 17.5, 7.5]  # 7.5: half of the best
    assert ladder.max_sustainable == 15
    assert ladder.half is not None and ladder.half.rate == 7.5


async def test_when_the_lowest_rate_fails_the_ladder_goes_down_by_halves() -> None:
    ladder, tried = await _climbed(limit=2)

    assert tried == [5, 2.5, 1.2, 0.6]
    assert ladder.max_sustainable == 1.2


async def test_a_growing_backlog_is_not_sustainable_even_with_a_low_p95() -> None:
    step = _step_at(10, 100)
    step.backlog_growth, step.backlog_at_end = 2.0, 30

    assert not step.sustainable
