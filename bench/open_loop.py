"""Open-loop ladders: booking starts and empty workflows arriving at rising fixed rates, each
rate held for a step; the maximum sustainable rate is the highest whose p95 stays under
P95_LIMIT_MS with no growing backlog and no failed call."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.client import Client

from bench.driver import Driver, outcomes
from bench.empty_workflow import EmptyWorkflow
from bench.load import Latency, OpenRun, arrive
from bench.stack import BASELINE_QUEUE

P95_LIMIT_MS = 500.0
# A backlog growing by more than this share of the rate, per second, and holding more calls
# than P95_LIMIT_MS worth of arrivals at the end of the step (Little's law), is not keeping up.
GROWTH_LIMIT = 0.05
# Rates of the ladder as multiples of the closed-loop throughput at 20 callers; after the first
# step that is not sustainable, one more step halfway between it and the last that was.
LADDER = (0.25, 0.5, 0.75, 1.0, 1.25)
# A step lasts long enough for this many calls (so its p95 is not the second-worst of 20), but
# at most MAX_STRETCH times the step's seconds.
MIN_CALLS, MAX_STRETCH = 60, 3
# When even the lowest rate is not sustainable, the rate is halved at most this many times.
DESCENT = 2
DRAIN_SECONDS = 30.0  # after the last call of a step is due, how long the others may take
PAUSE_SECONDS = 1.0  # between steps, so one step's stragglers do not load the next


@dataclass
class Step:
    rate: float
    seconds: float
    calls: int
    succeeded: int
    failed: int  # answered with anything else, or not answered within DRAIN_SECONDS
    achieved_per_second: float
    latency: Latency  # of the calls that succeeded, from when each was due
    backlog_growth: float  # calls per second (bench.load.OpenRun.backlog_growth)
    backlog_at_end: int  # calls due and not answered when the last one was due
    outcomes: dict[str, int]

    @property
    def backlog_growing(self) -> bool:
        return (
            self.backlog_growth > GROWTH_LIMIT * self.rate
            and self.backlog_at_end > self.rate * P95_LIMIT_MS / 1000
        )

    @property
    def sustainable(self) -> bool:
        return self.failed == 0 and self.latency.p95_ms < P95_LIMIT_MS and not self.backlog_growing


@dataclass
class Ladder:
    what: str
    reference_per_second: float  # the closed-loop throughput the rates are multiples of
    steps: list[Step]
    half: Step | None  # a step at half the maximum sustainable rate

    @property
    def max_sustainable(self) -> float:
        return max((step.rate for step in self.steps if step.sustainable), default=0.0)


def _step(run: OpenRun[str]) -> Step:
    """A step's figures from its calls; each call's result is "ok" or what went wrong."""
    good = [a for a in run.arrivals if a.result == "ok"]
    last = max((a.due + a.seconds for a in good), default=run.duration)
    labels = [a.result for a in run.arrivals] + ["no answer"] * run.unanswered
    return Step(
        rate=run.rate,
        seconds=run.duration,
        calls=len(labels),
        succeeded=len(good),
        failed=len(labels) - len(good),
        achieved_per_second=len(good) / max(run.duration, last),
        latency=Latency.of([a.seconds for a in good]),
        backlog_growth=run.backlog_growth,
        backlog_at_end=run.backlog[-1][1] if run.backlog else 0,
        outcomes=outcomes(labels),
    )


def held_for(rate: float, seconds: float) -> float:
    """How long a step at `rate` lasts: `seconds`, or long enough for MIN_CALLS calls."""
    return max(seconds, min(MIN_CALLS / rate, MAX_STRETCH * seconds))


async def _held(rate: float, seconds: float, call: Callable[[int], Awaitable[str]]) -> Step:
    """One step: `call` at `rate` for `held_for(rate, seconds)`, then a pause."""
    step = _step(await arrive(rate, held_for(rate, seconds), call, DRAIN_SECONDS))
    await asyncio.sleep(PAUSE_SECONDS)
    return step


async def climb(
    what: str, reference: float, run_step: Callable[[float], Awaitable[Step]]
) -> Ladder:
    """Up the ladder until a rate is not sustainable, then halfway back (or, when the lowest
    rate failed, down by halves until one holds), then half the best."""
    steps: list[Step] = []
    for multiple in LADDER:
        steps.append(await run_step(round(multiple * reference, 1)))
        if not steps[-1].sustainable:
            break
    passed = [step.rate for step in steps if step.sustainable]
    if passed and not steps[-1].sustainable:
        steps.append(await run_step(round((max(passed) + steps[-1].rate) / 2, 1)))
    for _ in range(DESCENT if not passed else 0):
        steps.append(await run_step(round(steps[-1].rate / 2, 1)))
        if steps[-1].sustainable:
            break
    ladder = Ladder(what, reference, steps, None)
    if ladder.max_sustainable:
        ladder.half = await run_step(round(ladder.max_sustainable / 2, 1))
    return ladder


async def booking_starts(driver: Driver, reference: float, seconds: float) -> Ladder:
    """POST /v1/bookings, one place each, on a fresh session per step that never sells out."""

    async def run_step(rate: float) -> Step:
        session_id = await driver.new_session(round(rate * held_for(rate, seconds)) + 10)

        async def call(i: int) -> str:
            answer = await driver.start(session_id, i)
            return "ok" if answer.created else answer.outcome

        return await _held(rate, seconds, call)

    return await climb("booking starts", reference, run_step)


async def empty_workflows(client: Client, reference: float, seconds: float) -> Ladder:
    """Empty workflows started and awaited (execute_workflow), as the closed-loop baseline."""
    run_id = uuid.uuid4().hex[:8]

    async def run_step(rate: float) -> Step:
        async def call(i: int) -> str:
            try:
                await client.execute_workflow(
                    EmptyWorkflow.run,
                    id=f"bench-open-{run_id}-{rate}-{i}",
                    task_queue=BASELINE_QUEUE,
                )
            except Exception as err:  # any failure is a failed call of the step, by name
                return type(err).__name__
            return "ok"

        return await _held(rate, seconds, call)

    return await climb("empty workflows", reference, run_step)
