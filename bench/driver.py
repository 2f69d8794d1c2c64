"""The load driver's access to one running stack: the API over HTTP, PostgreSQL for sessions and
for checking what was sold, Stripe for paying."""

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from activities.payments import make_stripe_client
from bench.stack import Stack, processes
from core.enums import SessionKind
from store.catalog import SessionSpec, create_session


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


def outcomes(labels: list[str]) -> dict[str, int]:
    return dict(Counter(labels).most_common())


@dataclass
class Sold:
    """What PostgreSQL says was taken in one session, checked against the 201 answers."""

    held: int
    sold: int
    seats_twice: int
    holders_match: bool

    @property
    def taken(self) -> int:
        return self.held + self.sold


class Driver:
    """HTTP and database access to one running stack, shared by the load scenarios."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.AsyncClient(
            base_url=stack.api_url,
            headers={"Authorization": f"Bearer {stack.api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=400, max_keepalive_connections=400),
        )
        self.engine = create_async_engine(stack.database_url, pool_size=2)
        self.db: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine)
        self.stripe = make_stripe_client("sk_test_localstripe", stack.stripe_url)
        self.processes = processes(stack)  # whose CPU the booking scenarios read

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

    async def start(self, session_id: str, n: int, quantity: int = 1) -> Call:
        body = {
            "session_id": session_id,
            "quantity": quantity,
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

    async def sold(self, session_id: str, winners: list[dict[str, Any]]) -> Sold:
        """The session's seats read back: held and sold counts, any seat label given to two
        bookings, and whether the holders are exactly the 201 bookings with their quantities."""
        states = dict(
            await self.rows(
                "SELECT state, count(*) FROM seats WHERE session_id = CAST(:session AS uuid)"
                " GROUP BY state",
                session=session_id,
            )
        )
        holders = await self.rows(
            "SELECT booking_id::text, count(*) FROM seats"
            " WHERE session_id = CAST(:session AS uuid) AND booking_id IS NOT NULL GROUP BY 1",
            session=session_id,
        )
        labels = [label for booking in winners for label in booking["seats"]]
        return Sold(
            held=states.get("held", 0),
            sold=states.get("sold", 0),
            seats_twice=len(labels) - len(set(labels)),
            holders_match=dict(holders) == {b["id"]: len(b["seats"]) for b in winners},
        )
