"""Customers who book, pay, pay twice, cancel, let holds expire, pay late and replay webhooks,
and who retry like real clients: the same Idempotency-Key after a 5xx or a timeout."""

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import stripe

from devstack.pay import DECLINED, SUCCEEDS, pay
from tests.api.helpers import signed_event

RETRIED_STATUSES = {429, 500, 502, 503, 504}
_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}")


@dataclass
class Tally:
    """What the customers did and saw; `violations` are what they could tell was wrong."""

    actions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    api_errors: Counter[str] = field(default_factory=Counter)
    # when each kind of API error was first and last seen, seconds into the run
    api_error_window: dict[str, list[float]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    # booking id -> what its customer did to it, for reproducing a violation
    bookings: dict[str, list[str]] = field(default_factory=dict)
    intents: dict[str, str] = field(default_factory=dict)  # PaymentIntent id -> booking id
    # Names, emails and client secrets the customers sent or got: no process may log them.
    personal: set[str] = field(default_factory=set)

    def note(self, booking_id: str, what: str) -> None:
        self.bookings.setdefault(booking_id, []).append(what)

    def story_of(self, violations: list[str]) -> dict[str, list[str]]:
        """What the customers did to each booking a violation names (by id or by intent)."""
        named = {b for v in violations for b in self.bookings if b in v}
        named |= {b for v in violations for i, b in self.intents.items() if i in v}
        return {booking_id: self.bookings[booking_id] for booking_id in sorted(named)}


@dataclass
class Shop:
    """Everything a customer reaches: the API, Stripe (directly, as a browser does), sessions."""

    api: httpx.AsyncClient
    stripe_url: str
    stripe: stripe.StripeClient
    webhook_secret: str
    sessions: list[str]
    hold_seconds: dict[str, int]
    tally: Tally
    stop_at: float  # monotonic time after which no new booking starts
    began: float = field(default_factory=time.monotonic)

    def stamp(self) -> str:
        return f"t+{time.monotonic() - self.began:.1f}s"

    def api_error(self, what: str) -> None:
        self.tally.api_errors[what] += 1
        at = round(time.monotonic() - self.began, 1)
        self.tally.api_error_window.setdefault(what, [at, at])[1] = at

    async def call(
        self,
        method: str,
        path: str,
        *,
        patience: float = 45,
        rng: random.Random,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Retry 429, 5xx and network errors with backoff for `patience` seconds; None if the
        API never gave a final answer."""
        route = f"{method} {_ID.sub('/{id}', path)}"
        deadline, delay = time.monotonic() + patience, 0.25
        while True:
            try:
                response = await self.api.request(method, path, **kwargs)
            except httpx.TransportError as err:
                self.api_error(f"{route} {type(err).__name__}")
            else:
                if response.status_code not in RETRIED_STATUSES:
                    return response
                self.api_error(f"{route} {response.status_code}")
            if time.monotonic() + delay > deadline:
                self.tally.outcomes[f"gave up on {route}"] += 1
                return None
            await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 4)


Plan = Callable[[Shop, random.Random], Awaitable[None]]


async def customer(shop: Shop, rng: random.Random) -> None:
    """Book again and again, each time with a plan drawn at random, until the shop closes."""
    plans, weights = zip(*PLANS.items(), strict=True)
    while time.monotonic() < shop.stop_at:
        plan = rng.choices(plans, weights)[0]
        shop.tally.actions[plan] += 1
        await PLAN_STEPS[plan](shop, rng)
        await asyncio.sleep(rng.uniform(0.2, 1.5))


# ---- steps ------------------------------------------------------------------------------------


async def book(shop: Shop, rng: random.Random, plan: str) -> dict[str, Any] | None:
    """Start a booking; with some luck, send the same request again (same key, same body)."""
    session = rng.choice(shop.sessions)
    key = f"chaos-{rng.getrandbits(64):016x}"
    customer = {"name": f"Customer {key[-6:]}", "email": f"{key}@example.com"}
    body = {"session_id": session, "quantity": rng.randint(1, 4), "customer": customer}
    headers = {"Idempotency-Key": key}
    response = await shop.call("POST", "/v1/bookings", json=body, headers=headers, rng=rng)
    if response is None:
        return None
    if response.status_code != 201:
        shop.tally.outcomes[f"book answered {response.status_code}"] += 1
        return None
    booking: dict[str, Any] = response.json()
    # A replay answered from the database has no client_secret (it is never stored).
    secret = booking["payment"].get("client_secret")
    shop.tally.personal |= {customer["name"], customer["email"], *([secret] if secret else [])}
    shop.tally.outcomes["booked"] += 1
    shop.tally.intents[booking["payment"]["payment_intent_id"]] = booking["id"]
    shop.tally.note(booking["id"], f"{shop.stamp()} {plan}: booked {body['quantity']} ({key})")
    if rng.random() < 0.25:
        await _replay(shop, rng, body, headers, booking)
    return booking


async def _replay(
    shop: Shop,
    rng: random.Random,
    body: dict[str, Any],
    headers: dict[str, str],
    first: dict[str, Any],
) -> None:
    """I5: the same request with the same Idempotency-Key returns the same booking."""
    shop.tally.actions["replayed key"] += 1
    replies = await asyncio.gather(
        *(
            shop.call("POST", "/v1/bookings", json=body, headers=headers, rng=rng)
            for _ in range(rng.randint(1, 3))
        )
    )
    for reply in replies:
        if reply is None:
            continue
        if reply.status_code not in (200, 201) or reply.json().get("id") != first["id"]:
            shop.tally.violations.append(
                f"I5: Idempotency-Key {headers['Idempotency-Key']} gave booking {first['id']}, "
                f"then {reply.status_code} {reply.text[:200]}"
            )


async def pay_card(shop: Shop, booking: dict[str, Any], card: str = SUCCEEDS) -> str:
    intent = booking["payment"]["payment_intent_id"]
    try:
        outcome = await pay(shop.stripe, intent, card)
    except stripe.StripeError as err:
        outcome = f"refused: {type(err).__name__}"
    shop.tally.outcomes[f"pay {outcome.split(':')[0]}"] += 1
    shop.tally.note(booking["id"], f"{shop.stamp()} paid {card[-4:]}: {outcome}")
    return outcome


async def cancel(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    response = await shop.call(
        "POST", f"/v1/bookings/{booking['id']}/cancel", json={"reason": "chaos"}, rng=rng
    )
    status = "no answer" if response is None else str(response.status_code)
    shop.tally.outcomes[f"cancel answered {status}"] += 1
    shop.tally.note(booking["id"], f"{shop.stamp()} cancel: {status}")


async def read(shop: Shop, rng: random.Random, booking_id: str) -> dict[str, Any] | None:
    response = await shop.call("GET", f"/v1/bookings/{booking_id}", rng=rng, patience=10)
    if response is None or response.status_code != 200:
        return None
    return response.json()  # type: ignore[no-any-return]


async def wait_for(
    shop: Shop, rng: random.Random, booking_id: str, statuses: set[str], within: float
) -> str | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        booking = await read(shop, rng, booking_id)
        if booking is not None and booking["status"] in statuses:
            return str(booking["status"])
        await asyncio.sleep(0.3)
    return None


async def replay_webhooks(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    """Stripe's at-least-once, unordered delivery: the intent's events, each sent 1-3 times
    (same event id), plus fresh ids and a stale `payment_failed`, shuffled and spread out."""
    intent_id = booking["payment"]["payment_intent_id"]
    try:
        answer = await shop.api.get(
            f"{shop.stripe_url}/v1/payment_intents/{intent_id}",
            auth=("sk_test_localstripe", ""),
        )
        intent = answer.json()
    except (httpx.HTTPError, ValueError):
        return
    events: list[tuple[bytes, dict[str, str]]] = []
    kinds = ["payment_intent.succeeded"] * rng.randint(1, 2) + ["payment_intent.payment_failed"]
    for kind in kinds:
        event = signed_event(kind, intent, secret=shop.webhook_secret)
        events += [event] * rng.randint(1, 3)
    rng.shuffle(events)
    shop.tally.outcomes["webhooks replayed"] += len(events)
    shop.tally.outcomes["webhooks duplicated"] += len(events) - len(kinds)
    shop.tally.note(booking["id"], f"{shop.stamp()} {len(events)} signed webhooks")
    for payload, headers in events:
        await asyncio.sleep(rng.uniform(0, 1.5))
        response = await shop.call(
            "POST", "/v1/webhooks/stripe", content=payload, headers=headers, rng=rng
        )
        if response is not None and response.status_code != 200:
            shop.tally.outcomes[f"webhook answered {response.status_code}"] += 1


def _hold_left(booking: dict[str, Any]) -> float:
    expires = datetime.fromisoformat(booking["hold_expires_at"])
    return (expires - datetime.now(UTC)).total_seconds()


# ---- plans ------------------------------------------------------------------------------------


async def plan_pay(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "pay")
    if booking is None:
        return
    await asyncio.sleep(rng.uniform(0, max(0.0, _hold_left(booking) * 0.6)))
    await pay_card(shop, booking)
    if rng.random() < 0.5:
        await replay_webhooks(shop, rng, booking)


async def plan_pay_twice(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "pay twice")
    if booking is None:
        return
    await pay_card(shop, booking)
    await asyncio.sleep(rng.uniform(0, 1))
    await pay_card(shop, booking)
    await replay_webhooks(shop, rng, booking)


async def plan_cancel(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "cancel")
    if booking is None:
        return
    await asyncio.sleep(rng.uniform(0, max(0.0, _hold_left(booking) * 0.8)))
    await cancel(shop, rng, booking)
    if rng.random() < 0.3:
        await cancel(shop, rng, booking)


async def plan_pay_then_cancel(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "pay then cancel")
    if booking is None:
        return
    if (await pay_card(shop, booking)) == "succeeded":
        await wait_for(shop, rng, booking["id"], {"CONFIRMED"}, within=10)
    await cancel(shop, rng, booking)


async def plan_expire(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "let expire")
    if booking is None:
        return
    await asyncio.sleep(max(0.0, _hold_left(booking)) + rng.uniform(0, 2))
    await read(shop, rng, booking["id"])


async def plan_pay_late(shop: Shop, rng: random.Random) -> None:
    """Pay around the end of the hold: before it, in the race, or after it."""
    booking = await book(shop, rng, "pay late")
    if booking is None:
        return
    await asyncio.sleep(max(0.0, _hold_left(booking) + rng.uniform(-0.3, 2.0)))
    late = _hold_left(booking) < 0
    outcome = await pay_card(shop, booking)
    if late:
        shop.tally.outcomes[f"late payment {outcome.split(':')[0]}"] += 1
    if outcome == "succeeded" and rng.random() < 0.5:
        await replay_webhooks(shop, rng, booking)


async def plan_declined(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "declined")
    if booking is None:
        return
    await pay_card(shop, booking, DECLINED)
    await replay_webhooks(shop, rng, booking)
    if rng.random() < 0.5:
        await cancel(shop, rng, booking)


PLAN_STEPS: dict[str, Plan] = {
    "pay": plan_pay,
    "pay twice": plan_pay_twice,
    "cancel": plan_cancel,
    "pay then cancel": plan_pay_then_cancel,
    "let expire": plan_expire,
    "pay late": plan_pay_late,
    "declined": plan_declined,
}
PLANS = {
    "pay": 30,
    "pay twice": 8,
    "cancel": 10,
    "pay then cancel": 10,
    "let expire": 12,
    "pay late": 14,
    "declined": 8,
}
