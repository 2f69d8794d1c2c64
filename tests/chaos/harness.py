"""The hostile part of the chaos test: kill the worker, restart Temporal and PostgreSQL, cut
Stripe and SendGrid off; then wait until the system has nothing left to do."""

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from devstack.fault_proxy import ProxyControl
from devstack.stack import Stack
from tests.chaos.answers import KILL, Window


@dataclass
class Mayhem:
    """What the harness did to the system, and when. A count is made only once the harness has
    seen it happen (the old process gone, a new one serving), never from the plan alone."""

    counts: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)  # monotonic, for judging 503s

    def done(self, cause: str, start: float, proof: bool) -> None:
        if proof:
            self.counts[f"{cause}s"] += 1
            self.windows.append(Window(cause, start, time.monotonic()))
        else:
            self.log.append(f"{cause}: not seen to happen")


Action = Callable[[], Awaitable[None]]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, as another user (PostgreSQL may run as its own)
        return False
    return False


async def wreak(stack: Stack, seconds: float, rng: random.Random, mayhem: Mayhem) -> None:
    """One timeline: worker SIGKILLs every few seconds, Temporal and PostgreSQL restarted once
    each, and an outage of Stripe and of SendGrid; actions never overlap."""
    began = time.monotonic()

    async def kill_worker() -> None:
        start, worker = time.monotonic(), stack.services["worker"]
        old = worker.pid
        await asyncio.to_thread(stack.kill_worker)
        killed = _gone(old)
        await asyncio.sleep(rng.uniform(0, 1.5))
        await asyncio.to_thread(stack.start_worker)
        mayhem.done(KILL, start, killed and worker.running and worker.pid != old)

    async def restart_temporal() -> None:
        start, temporal = time.monotonic(), stack.services["temporal"]
        old = temporal.pid
        await asyncio.to_thread(stack.restart_temporal, 1.0)
        mayhem.done("Temporal restart", start, _gone(old) and temporal.running)

    async def restart_postgres() -> None:
        assert stack.postgres is not None
        start, old = time.monotonic(), stack.postgres.pid
        await asyncio.to_thread(stack.restart_postgres, 1.0)
        # A new postmaster wrote its pid (the old one is not our child: it may linger, unreaped).
        mayhem.done("PostgreSQL restart", start, stack.postgres.pid != old)

    def outage(name: str, proxy: ProxyControl | None, length: float) -> Action:
        async def cut() -> None:
            if proxy is None:
                mayhem.log.append(f"{name} has no fault proxy: no outage")
                return
            start, before = time.monotonic(), await _refused(proxy)
            await asyncio.to_thread(proxy.set_down, True)
            await asyncio.sleep(length)
            # An outage nobody ran into proves nothing: it lasts until it refused a request.
            while await _refused(proxy) == before and time.monotonic() < start + length + 10:
                await asyncio.sleep(0.5)
            await asyncio.to_thread(proxy.set_down, False)
            mayhem.done(f"{name} outage", start, await _refused(proxy) > before)

        return cut

    timeline: list[tuple[float, str, Action]] = [
        (0.15 * seconds, "Stripe down 4 s", outage("Stripe", stack.stripe_proxy, 4)),
        (0.35 * seconds, "restart Temporal", restart_temporal),
        (0.50 * seconds, "SendGrid down 5 s", outage("SendGrid", stack.sendgrid_proxy, 5)),
        (0.65 * seconds, "restart PostgreSQL", restart_postgres),
    ]
    at = rng.uniform(2, 6)
    while at < seconds - 5:
        timeline.append((at, "SIGKILL the worker", kill_worker))
        at += rng.uniform(4, 9)
    for at, what, action in sorted(timeline, key=lambda item: item[0]):
        await asyncio.sleep(max(0.0, began + at - time.monotonic()))
        mayhem.log.append(f"t+{time.monotonic() - began:.1f}s {what}")
        await action()
        await ensure_worker(stack, mayhem)


async def _refused(proxy: ProxyControl) -> int:
    """How many requests the proxy refused while down, by its own count."""
    return (await asyncio.to_thread(proxy.counts)).get("down", 0)


async def ensure_worker(stack: Stack, mayhem: Mayhem) -> None:
    """A worker that exited by itself (not killed by us) is worth reporting, then restarting."""
    if not stack.services["worker"].running:
        mayhem.counts["worker exits (not ours)"] += 1
        mayhem.log.append("the worker had exited by itself: restarted")
        await asyncio.to_thread(stack.start_worker)


@dataclass
class Stuck:
    """What still has work to do; empty when the system is at rest."""

    descriptions: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.descriptions)


async def quiesce(
    stack: Stack, engine: AsyncEngine, temporal: Client, within: float, mayhem: Mayhem
) -> Stuck:
    """Poll until no booking is pending, no session's cancellation is running, and every running
    booking workflow is a CONFIRMED booking waiting for its session with no activity due; or
    give up after `within` seconds."""
    began = time.monotonic()
    reported = began
    while True:
        await ensure_worker(stack, mayhem)
        try:
            stuck = await _busy(stack, engine, temporal)
        except RPCError as err:
            stuck = Stuck([f"Temporal did not answer: {err}"])
        waited = time.monotonic() - began
        if not stuck or waited > within:
            return stuck
        if time.monotonic() - reported >= 10:
            reported = time.monotonic()
            mayhem.log.append(
                f"at rest? {waited:.0f} s on, {len(stuck.descriptions)} thing(s) busy, "
                f"e.g. {stuck.descriptions[0]}"
            )
        await asyncio.sleep(1)


async def _busy(stack: Stack, engine: AsyncEngine, temporal: Client) -> Stuck:
    stuck = Stuck()
    async with engine.connect() as db:
        rows = (
            await db.execute(text("SELECT id::text, status, hold_expires_at FROM bookings"))
        ).all()
    status = {f"booking-{booking_id}": s for booking_id, s, _ in rows}
    now = datetime.now(UTC)
    for booking_id, s, hold in rows:
        if s == "PENDING_PAYMENT":
            overdue = "past its hold" if hold < now - timedelta(seconds=2) else "within its hold"
            stuck.descriptions.append(f"booking {booking_id} PENDING_PAYMENT {overdue}")
    # Not periodic jobs on the same queue (the safety net): they run on their schedule.
    query = (
        f'TaskQueue="{stack.options.task_queue}" AND WorkflowType="BookingWorkflow" '
        'AND ExecutionStatus="Running"'
    )
    running = [w.id async for w in temporal.list_workflows(query)]
    # A session's cancellation still running has bookings left to close: not at rest.
    cancelling = (
        f'TaskQueue="{stack.options.task_queue}" AND WorkflowType="SessionCancellationWorkflow" '
        'AND ExecutionStatus="Running"'
    )
    stuck.descriptions += [
        f"{w.id} running: the session's bookings not all closed yet"
        async for w in temporal.list_workflows(cancelling)
    ]
    limit = asyncio.Semaphore(16)

    async def check(workflow_id: str) -> None:
        async with limit:
            described = await temporal.get_workflow_handle(workflow_id).describe()
        raw, booking = described.raw_description, status.get(workflow_id)
        busy = [
            f"activity {a.activity_type.name} {PendingActivityState.Name(a.state)} "
            f"attempt {a.attempt}: {a.last_failure.message[:120]}"
            for a in raw.pending_activities
        ]
        if raw.HasField("pending_workflow_task"):
            busy.append("a workflow task is due")
        if booking != "CONFIRMED" and not busy:
            busy.append("waiting (late-payment window?)")
        stuck.descriptions += [f"{workflow_id} running, booking {booking}: {b}" for b in busy]

    await asyncio.gather(*(check(w) for w in running))
    return stuck
