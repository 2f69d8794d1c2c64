"""The load scenarios: empty-workflow baseline, booking start, full booking, contention, memory.

One module so the scenarios share one driver and one set of sessions; issue 13 will split it
when the open-loop ladder and the hot on-sale arrive."""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from activities.payments import make_stripe_client
from bench.empty_workflow import EmptyWorkflow
from bench.load import Latency, drive
from bench.memory import Footprint, MemorySampler
from bench.stack import BASELINE_QUEUE, Stack
from core.settings import Settings
from core.temporal import connect
from devstack.pay import pay
from models.catalog import SessionSpec, create_session
from models.enums import SessionKind

BASELINE_WORKFLOWS, BASELINE_CONCURRENCY = 300, 20
START_LEVELS = {1: 60, 20: 400, 50: 500}  # concurrent callers -> requests
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


@dataclass
class Contention:
    buyers: int
    concurrency: int
    places: int
    created: int
    conflicts: int
    other: int
    held: int
    sold: int
    seats_twice: int
    holders_match: bool
    settle_seconds: float
    outcomes: dict[str, int]

    @property
    def exact(self) -> bool:
        return (
            self.created == self.places == self.held + self.sold
            and self.seats_twice == 0
            and self.holders_match
            and self.other == 0
        )


@dataclass
class Results:
    baseline: Baseline
    start: list[StartLevel]
    full: FullBooking
    contention: Contention
    memory: dict[str, Footprint]


@dataclass
class Call:
    status: int
    seconds: float
    body: dict[str, Any]
    error: str = ""

    @property
    def created(self) -> bool:
        return self.status == 201 and bool(self.body.get("payment", {}).get("client_secret"))

    @property
    def outcome(self) -> str:
        """The answer in a few words: 201, 409 sold-out, or the transport error's name."""
        if self.error:
            return self.error
        problem = str(self.body.get("type", "")).rsplit(":", 1)[-1]
        return f"{self.status} {problem}".strip()


def _outcomes(labels: list[str]) -> dict[str, int]:
    return dict(Counter(labels).most_common())


class Driver:
    """HTTP and database access to one running stack, shared by the load scenarios."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.AsyncClient(
            base_url=stack.api_url,
            headers={"Authorization": f"Bearer {stack.api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
        )
        self.engine = create_async_engine(stack.database_url, pool_size=2)
        self.db: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine)
        self.stripe = make_stripe_client("sk_test_localstripe", stack.stripe_url)

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()

    async def new_session(self, capacity: int) -> str:
        starts = datetime.now(UTC) + timedelta(days=30)
        spec = SessionSpec(
            kind=SessionKind.COURSE,
            title="Benchmark session",
            location="127.0.0.1",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            price_amount=7500,
            currency="GBP",
            capacity=capacity,
        )
        async with self.db.begin() as db:
            return str((await create_session(db, spec)).id)

    async def start(self, session_id: str, n: int) -> Call:
        body = {
            "session_id": session_id,
            "quantity": 1,
            "customer": {"name": f"Buyer {n}", "email": f"buyer{n}@example.com"},
        }
        began = time.perf_counter()
        try:
            response = await self.http.post(
                "/v1/bookings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
        except httpx.HTTPError as err:
            return Call(0, time.perf_counter() - began, {}, type(err).__name__)
        seconds = time.perf_counter() - began
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Call(response.status_code, seconds, body)

    async def status(self, booking_id: str) -> str | None:
        try:
            response = await self.http.get(f"/v1/bookings/{booking_id}")
        except httpx.HTTPError:
            return None
        return response.json().get("status") if response.status_code == 200 else None

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db() as db:
            return list((await db.execute(text(sql), params)).all())


async def run_all(stack: Stack) -> Results:
    """The load scenarios in order, with the worker's and the API's memory sampled throughout."""
    driver = Driver(stack)
    try:
        async with MemorySampler(stack.pids) as memory:
            baseline = await empty_workflows(stack)
            start = [await start_level(driver, c, n) for c, n in START_LEVELS.items()]
            full = await full_bookings(driver)
            race = await contention(driver)
        return Results(baseline, start, full, race, memory.footprints)
    finally:
        await driver.close()


async def empty_workflows(stack: Stack) -> Baseline:
    """Start and complete empty workflows through the same dev server, awaiting each result."""
    client = await connect(Settings(temporal_address=stack.temporal_address))
    run_id = uuid.uuid4().hex[:8]

    async def one(i: int) -> float:
        began = time.perf_counter()
        await client.execute_workflow(
            EmptyWorkflow.run, id=f"bench-empty-{run_id}-{i}", task_queue=BASELINE_QUEUE
        )
        return time.perf_counter() - began

    await drive(WARM_UP, BASELINE_CONCURRENCY, lambda i: one(BASELINE_WORKFLOWS + i), TIME_LIMIT)
    run = await drive(BASELINE_WORKFLOWS, BASELINE_CONCURRENCY, one, TIME_LIMIT)
    return Baseline(
        len(run.results),
        BASELINE_CONCURRENCY,
        run.wall_seconds,
        run.per_second,
        Latency.of(run.results),
    )


async def start_level(driver: Driver, concurrency: int, requests: int) -> StartLevel:
    """POST /v1/bookings on a session big enough that nothing sells out."""
    session_id = await driver.new_session(requests + WARM_UP)
    await drive(
        WARM_UP, min(concurrency, WARM_UP), lambda i: driver.start(session_id, i), TIME_LIMIT
    )
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
        outcomes=_outcomes([call.outcome for call in run.results]),
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
        outcomes=_outcomes([outcome for outcome, _ in run.results]),
    )


async def contention(driver: Driver) -> Contention:
    """Many buyers race for the few places of one session, one place each."""
    session_id = await driver.new_session(PLACES)
    run = await drive(BUYERS, BUYER_CONCURRENCY, lambda i: driver.start(session_id, i), TIME_LIMIT)
    winners = [call.body for call in run.results if call.created]
    conflicts = sum(call.status == 409 for call in run.results)
    labels = [label for booking in winners for label in booking["seats"]]
    states = dict(
        await driver.rows(
            "SELECT state, count(*) FROM seats WHERE session_id = CAST(:session AS uuid)"
            " GROUP BY state",
            session=session_id,
        )
    )
    holders = await driver.rows(
        "SELECT booking_id::text, count(*) FROM seats"
        " WHERE session_id = CAST(:session AS uuid) AND booking_id IS NOT NULL GROUP BY 1",
        session=session_id,
    )
    return Contention(
        buyers=len(run.results),
        concurrency=BUYER_CONCURRENCY,
        places=PLACES,
        created=len(winners),
        conflicts=conflicts,
        other=len(run.results) - len(winners) - conflicts,
        held=states.get("held", 0),
        sold=states.get("sold", 0),
        seats_twice=len(labels) - len(set(labels)),
        holders_match={booking_id for booking_id, _ in holders} == {b["id"] for b in winners}
        and all(count == 1 for _, count in holders),
        settle_seconds=run.wall_seconds,
        outcomes=_outcomes([call.outcome for call in run.results]),
    )
