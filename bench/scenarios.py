"""The load scenarios of one run against one stack, in order: the closed-loop ones (empty-workflow
baseline, booking start, full booking, contention), the open-loop ladders, the hot on-sale;
memory sampled throughout, CPU by process read around the baseline, the starts at 20 callers,
the full bookings and the on-sale."""

import asyncio
import time
import uuid
from dataclasses import dataclass

import stripe
from temporalio.client import Client

from bench import open_loop
from bench.cpu import CpuMeter, CpuWindow
from bench.driver import Driver, Sold, outcomes
from bench.empty_workflow import EmptyWorkflow
from bench.load import Latency, drive
from bench.memory import Footprint, MemorySampler
from bench.onsale import OnSale, on_sale
from bench.stack import BASELINE_QUEUE, Stack, processes
from core.settings import Settings
from core.temporal import connect
from devstack.pay import pay

BASELINE_WORKFLOWS, BASELINE_CONCURRENCY = 300, 20
START_LEVELS = {1: 60, 20: 400, 50: 500}  # concurrent callers -> requests
LADDER_REFERENCE = 20  # the open-loop ladder's rates are multiples of this level's throughput
FULL_BOOKINGS, FULL_CONCURRENCY = 200, 20
BUYERS, BUYER_CONCURRENCY, PLACES = 500, 50, 50
WARM_UP = 20
TIME_LIMIT = 60.0  # no new call starts after this long in one scenario
# localstripe sleeps this long before it sends each webhook (localstripe/webhooks.py).
LOCALSTRIPE_WEBHOOK_DELAY = 1.0
# Nothing can confirm before that webhook, so polling starts a little before it could arrive
# (the sleep starts while pay() is still reading its last answer) and then runs every 50 ms:
# 20 bookings polling every 20 ms were 1000 GETs a second, a load of their own on 2 cores.
POLL_FROM, POLL_EVERY, POLL_TIMEOUT = 0.9, 0.05, 30.0


@dataclass
class Baseline:
    workflows: int
    concurrency: int
    seconds: float
    per_second: float
    latency: Latency
    cpu: CpuWindow  # per workflow completed


@dataclass
class StartLevel:
    concurrency: int
    requests: int
    created: int
    errors: int
    seconds: float
    per_second: float
    latency: Latency
    outcomes: dict[str, int]
    cpu: CpuWindow  # per booking created


@dataclass
class FullBooking:
    bookings: int
    concurrency: int
    confirmed: int
    errors: int
    seconds: float
    per_second: float
    webhook_to_confirmed_raw: Latency
    webhook_to_confirmed_net: Latency
    db_clock_event_to_confirmed: Latency
    outcomes: dict[str, int]
    cpu: CpuWindow  # per booking confirmed


@dataclass
class Contention:
    buyers: int
    concurrency: int
    places: int
    created: int
    conflicts: int
    other: int
    sold: Sold
    settle_seconds: float
    outcomes: dict[str, int]

    @property
    def exact(self) -> bool:
        return (
            self.created == self.places == self.sold.taken
            and self.sold.seats_twice == 0
            and self.sold.holders_match
            and self.other == 0
        )


@dataclass
class Plan:
    """The sizes of a run that are options of `python -m bench`."""

    step_seconds: float = 8.0
    onsale_places: int = 200
    onsale_buyers: int = 1000
    seed: int = 13


@dataclass
class Results:
    server: str
    baseline: Baseline
    start: list[StartLevel]
    full: FullBooking
    contention: Contention
    empty_ladder: open_loop.Ladder
    start_ladder: open_loop.Ladder
    onsale: OnSale
    memory: dict[str, Footprint]

    @property
    def reference_level(self) -> StartLevel:
        return reference_level(self.start)


def reference_level(start: list[StartLevel]) -> StartLevel:
    """The booking-start level the open-loop ladder is scaled from and CPU per start read at."""
    return next(level for level in start if level.concurrency == LADDER_REFERENCE)


async def run_all(stack: Stack, plan: Plan) -> Results:
    """The load scenarios in order, with the worker's and the API's memory sampled throughout."""
    driver = Driver(stack)
    client = await connect(Settings(temporal_address=stack.temporal_address))
    server = stack.options.temporal.value

    def say(what: str) -> None:
        print(f"bench [{server}]: {what} ...", flush=True)

    try:
        async with MemorySampler(stack.pids) as memory:
            say("closed loop: empty workflows, booking starts, full bookings, contention")
            baseline = await empty_workflows(client, processes(stack, "baseline"))
            start = [await start_level(driver, c, n) for c, n in START_LEVELS.items()]
            full = await full_bookings(driver)
            race = await contention(driver)
            say("open loop: empty workflows")
            empty_ladder = await open_loop.empty_workflows(
                client, baseline.per_second, plan.step_seconds
            )
            say("open loop: booking starts")
            start_ladder = await open_loop.booking_starts(
                driver, reference_level(start).per_second, plan.step_seconds
            )
            rate = start_ladder.max_sustainable or min(s.rate for s in start_ladder.steps)
            say(f"hot on-sale: {plan.onsale_buyers} buyers at {rate:g}/s")
            onsale = await on_sale(driver, plan.onsale_places, plan.onsale_buyers, rate, plan.seed)
        return Results(
            server,
            baseline,
            start,
            full,
            race,
            empty_ladder,
            start_ladder,
            onsale,
            memory.footprints,
        )
    finally:
        await driver.close()


async def empty_workflows(client: Client, pids: dict[str, int]) -> Baseline:
    """Start and complete empty workflows through the same server, awaiting each result."""
    run_id = uuid.uuid4().hex[:8]

    async def one(i: int) -> float:
        began = time.perf_counter()
        await client.execute_workflow(
            EmptyWorkflow.run, id=f"bench-empty-{run_id}-{i}", task_queue=BASELINE_QUEUE
        )
        return time.perf_counter() - began

    await drive(WARM_UP, BASELINE_CONCURRENCY, lambda i: one(BASELINE_WORKFLOWS + i), TIME_LIMIT)
    meter = CpuMeter(pids)
    run = await drive(BASELINE_WORKFLOWS, BASELINE_CONCURRENCY, one, TIME_LIMIT)
    return Baseline(
        len(run.results),
        BASELINE_CONCURRENCY,
        run.wall_seconds,
        run.per_second,
        Latency.of(run.results),
        meter.window(len(run.results)),
    )


async def start_level(driver: Driver, concurrency: int, requests: int) -> StartLevel:
    """POST /v1/bookings on a session big enough that nothing sells out."""
    session_id = await driver.new_session(requests + WARM_UP)
    await drive(
        WARM_UP, min(concurrency, WARM_UP), lambda i: driver.start(session_id, i), TIME_LIMIT
    )
    meter = CpuMeter(driver.processes)
    run = await drive(requests, concurrency, lambda i: driver.start(session_id, i), TIME_LIMIT)
    created = [call.seconds for call in run.results if call.created]
    return StartLevel(
        concurrency=concurrency,
        requests=len(run.results),
        created=len(created),
        errors=len(run.results) - len(created),
        seconds=run.wall_seconds,
        per_second=len(created) / run.wall_seconds,
        latency=Latency.of(created),
        outcomes=outcomes([call.outcome for call in run.results]),
        cpu=meter.window(len(created)),
    )


async def full_bookings(driver: Driver) -> FullBooking:
    """Start, pay at localstripe, let its webhook reach the API, poll until CONFIRMED."""
    session_id = await driver.new_session(FULL_BOOKINGS)

    async def one(i: int) -> tuple[str, float]:
        """("CONFIRMED", seconds from pay() returning succeeded to CONFIRMED read) or a failure."""
        call = await driver.start(session_id, i)
        if not call.created:
            return f"start: {call.outcome}", 0.0
        try:
            paid = await pay(driver.stripe, call.body["payment"]["payment_intent_id"])
        except stripe.StripeError as err:
            return f"pay: {type(err).__name__}", 0.0
        if paid != "succeeded":
            return f"pay: {paid}", 0.0
        paid_at = time.perf_counter()
        await asyncio.sleep(POLL_FROM)
        status: str | None = None
        while time.perf_counter() - paid_at < POLL_TIMEOUT:
            status = await driver.status(call.body["id"])
            if status == "CONFIRMED":
                return status, time.perf_counter() - paid_at
            await asyncio.sleep(POLL_EVERY)
        return f"still {status} after {POLL_TIMEOUT:.0f} s", 0.0

    meter = CpuMeter(driver.processes)
    run = await drive(FULL_BOOKINGS, FULL_CONCURRENCY, one, TIME_LIMIT)
    raw = [seconds for outcome, seconds in run.results if outcome == "CONFIRMED"]
    server_side = await driver.rows(
        "SELECT extract(epoch FROM b.confirmed_at - e.received_at) FROM bookings b"
        " JOIN stripe_events e ON e.booking_id = b.id AND e.type = 'payment_intent.succeeded'"
        " WHERE b.session_id = CAST(:session AS uuid) AND b.status = 'CONFIRMED'",
        session=session_id,
    )
    return FullBooking(
        bookings=len(run.results),
        concurrency=FULL_CONCURRENCY,
        confirmed=len(raw),
        errors=len(run.results) - len(raw),
        seconds=run.wall_seconds,
        per_second=len(raw) / run.wall_seconds,
        webhook_to_confirmed_raw=Latency.of(raw),
        webhook_to_confirmed_net=Latency.of([s - LOCALSTRIPE_WEBHOOK_DELAY for s in raw]),
        db_clock_event_to_confirmed=Latency.of([float(seconds) for (seconds,) in server_side]),
        outcomes=outcomes([outcome for outcome, _ in run.results]),
        cpu=meter.window(len(raw)),
    )


async def contention(driver: Driver) -> Contention:
    """Many buyers race for the few places of one session, one place each."""
    session_id = await driver.new_session(PLACES)
    run = await drive(BUYERS, BUYER_CONCURRENCY, lambda i: driver.start(session_id, i), TIME_LIMIT)
    winners = [call.body for call in run.results if call.created]
    conflicts = sum(call.status == 409 for call in run.results)
    return Contention(
        buyers=len(run.results),
        concurrency=BUYER_CONCURRENCY,
        places=PLACES,
        created=len(winners),
        conflicts=conflicts,
        other=len(run.results) - len(winners) - conflicts,
        sold=await driver.sold(session_id, winners),
        settle_seconds=run.wall_seconds,
        outcomes=outcomes([call.outcome for call in run.results]),
    )
