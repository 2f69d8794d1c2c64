"""What chaos customers can do (book, pay, cancel, refund, give places back, replay webhooks)
and what they see; they retry like real clients: the same Idempotency-Key after a 503, a 429 or
a timeout. The rules for what they may see are in `answers`; the plans that chain these steps
are in `plans`.

Over 350 lines: one step per API operation a customer can take, each with the retries a
real client makes; they share the retry loop and the record of what was answered."""

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import stripe

from devstack.pay import SUCCEEDS, pay
from tests.chaos.answers import Unavailable
from tests.helpers.stripe_events import signed_event

RETRIED_STATUSES = {429, 503}
_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}")
BOOKED = {200, 201, 409}  # 409: sold out, or the session was cancelled
CHANGED = {200, 202, 409}  # 409: the booking ended meanwhile (a session's cancellation)
REFUND_REASON = "chaos refund"
PLACES_REASON = "chaos places"


@dataclass(frozen=True)
class Promise:
    """A customer action the API answered 200 or 202: its outcome at rest must agree."""

    booking_id: str
    kind: str  # "cancel", "refund", "places", "session"
    status: int
    answer: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Tally:
    """What the customers did and saw; `violations` are what they could tell was wrong."""

    actions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    api_errors: Counter[str] = field(default_factory=Counter)
    # when each kind of API error was first and last seen, seconds into the run
    api_error_window: dict[str, list[float]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)  # every 503, judged at the end
    promises: list[Promise] = field(default_factory=list)
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
    """Everything a customer reaches: the API (a client's key, and the organiser's admin key
    for refunds), Stripe (directly, as a browser does), the sessions on sale."""

    api: httpx.AsyncClient
    admin: httpx.AsyncClient
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
        expect: set[int],
        rng: random.Random,
        patience: float = 45,
        client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Retry 429, 503 and network errors with backoff for `patience` seconds. An answer
        outside `expect` (any 500 above all) is a violation. None unless the answer was
        expected."""
        route = f"{method} {_ID.sub('/{id}', path)}"
        deadline, delay = time.monotonic() + patience, 0.25
        while True:
            sent = time.monotonic()
            try:
                response = await (client or self.api).request(method, path, **kwargs)
            except httpx.TransportError as err:
                self.api_error(f"{route} {type(err).__name__}")
            else:
                if response.status_code not in RETRIED_STATUSES:
                    return self._expected(route, response, expect)
                self.api_error(f"{route} {response.status_code}")
                if response.status_code == 503:
                    self.tally.unavailable.append(_unavailable(route, sent, response))
            if time.monotonic() + delay > deadline:
                # Reported, not a violation: every answer so far was retryable (each 503 is
                # judged on its own), and what the API did with the request is checked at rest.
                self.tally.outcomes[f"gave up on {route}"] += 1
                return None
            await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 4)

    def _expected(
        self, route: str, response: httpx.Response, expect: set[int]
    ) -> httpx.Response | None:
        if response.status_code in expect:
            return response
        self.tally.violations.append(
            f"{route} answered {response.status_code} at {self.stamp()} "
            f"({response.request.url.path}): {response.text[:300]}"
        )
        return None


def _unavailable(route: str, sent: float, response: httpx.Response) -> Unavailable:
    try:
        problem_type = str(response.json().get("type", ""))
    except ValueError:
        problem_type = ""
    content_type = response.headers.get("content-type", "")
    return Unavailable(route, sent, time.monotonic(), content_type, problem_type)


# ---- steps ------------------------------------------------------------------------------------


async def book(
    shop: Shop, rng: random.Random, plan: str, quantity: tuple[int, int] = (1, 4)
) -> dict[str, Any] | None:
    """Start a booking; with some luck, send the same request again (same key, same body)."""
    session = rng.choice(shop.sessions)
    key = f"chaos-{rng.getrandbits(64):016x}"
    customer = {"name": f"Customer {key[-6:]}", "email": f"{key}@example.com"}
    body = {"session_id": session, "quantity": rng.randint(*quantity), "customer": customer}
    headers = {"Idempotency-Key": key}
    response = await shop.call(
        "POST", "/v1/bookings", json=body, headers=headers, rng=rng, expect=BOOKED
    )
    if response is None:
        return None
    if response.status_code == 409:
        shop.tally.outcomes["book answered 409"] += 1
        return None
    booking: dict[str, Any] = response.json()
    # A replay answered from the database has no client_secret (it is never stored).
    secret = booking["payment"].get("client_secret")
    shop.tally.personal |= {customer["name"], customer["email"], *([secret] if secret else [])}
    shop.tally.outcomes["booked"] += 1
    intent = booking["payment"]["payment_intent_id"]
    if intent is None:
        shop.tally.outcomes["booked free"] += 1
    else:
        shop.tally.intents[intent] = booking["id"]
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
            shop.call(
                "POST", "/v1/bookings", json=body, headers=headers, rng=rng, expect={200, 201}
            )
            for _ in range(rng.randint(1, 3))
        )
    )
    for reply in replies:
        if reply is not None and reply.json().get("id") != first["id"]:
            shop.tally.violations.append(
                f"I5: Idempotency-Key {headers['Idempotency-Key']} gave booking {first['id']}, "
                f"then {reply.status_code} {reply.text[:200]}"
            )


async def pay_card(shop: Shop, booking: dict[str, Any], card: str = SUCCEEDS) -> str:
    intent = booking["payment"]["payment_intent_id"]
    if intent is None:
        return "free"  # nothing to pay
    try:
        outcome = await pay(shop.stripe, intent, card)
    except stripe.StripeError as err:
        outcome = f"refused: {type(err).__name__}"
    shop.tally.outcomes[f"pay {outcome.split(':')[0]}"] += 1
    shop.tally.note(booking["id"], f"{shop.stamp()} paid {card[-4:]}: {outcome}")
    return outcome


async def cancel(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    path = f"/v1/bookings/{booking['id']}/cancel"
    response = await shop.call(
        "POST", path, json={"reason": "chaos"}, rng=rng, expect={200, 202, 409}
    )
    status = "no answer" if response is None else str(response.status_code)
    shop.tally.outcomes[f"cancel answered {status}"] += 1
    shop.tally.note(booking["id"], f"{shop.stamp()} cancel: {status}")
    if response is not None and response.status_code in (200, 202):
        shop.tally.promises.append(
            Promise(booking["id"], "cancel", response.status_code, response.json())
        )


async def refund_part(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    """The organiser refunds part of what remains (now and then all of it), with the admin key;
    sometimes the same request twice with the same Idempotency-Key."""
    remaining = booking["amount_total"] - booking["amount_refunded"]
    if remaining <= 0:
        return
    amount = remaining if rng.random() < 0.2 else rng.randint(1, max(1, remaining - 1))
    key = f"chaos-refund-{rng.getrandbits(64):016x}"
    body = {"amount": amount, "reason": f"{REFUND_REASON} {key[-8:]}"}
    path = f"/v1/bookings/{booking['id']}/refunds"
    for _ in range(2 if rng.random() < 0.3 else 1):
        response = await shop.call(
            "POST",
            path,
            json=body,
            headers={"Idempotency-Key": key},
            rng=rng,
            expect=CHANGED,
            client=shop.admin,
        )
        status = "no answer" if response is None else str(response.status_code)
        shop.tally.outcomes[f"refund answered {status}"] += 1
        shop.tally.note(booking["id"], f"{shop.stamp()} refund {amount} ({key}): {status}")
        if response is not None and response.status_code in (200, 202):
            shop.tally.promises.append(
                Promise(booking["id"], "refund", response.status_code, response.json(), body)
            )


async def cancel_places(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    """Give back some places, by count or by naming seats, always keeping one."""
    seats = list(booking["seats"])
    if len(seats) < 2:
        return
    give_back = rng.sample(seats, rng.randint(1, len(seats) - 1))
    key = f"chaos-places-{rng.getrandbits(64):016x}"
    by_count = rng.random() < 0.5
    body: dict[str, Any] = {"reason": PLACES_REASON}
    body |= {"count": len(give_back)} if by_count else {"seats": give_back}
    response = await shop.call(
        "POST",
        f"/v1/bookings/{booking['id']}/cancel-places",
        json=body,
        headers={"Idempotency-Key": key},
        rng=rng,
        expect=CHANGED,
    )
    status = "no answer" if response is None else str(response.status_code)
    shop.tally.outcomes[f"places answered {status}"] += 1
    shop.tally.note(booking["id"], f"{shop.stamp()} give back {body}: {status}")
    if response is not None and response.status_code in (200, 202):
        detail = {
            "before": seats,
            "total": booking["amount_total"],
            "count": len(give_back),
            "seats": [] if by_count else give_back,
        }
        shop.tally.promises.append(
            Promise(booking["id"], "places", response.status_code, response.json(), detail)
        )


async def cancel_session(shop: Shop, rng: random.Random, session_id: str) -> None:
    """The organiser cancels a whole session while its customers book, pay and cancel."""
    asked = datetime.now(UTC)
    response = await shop.call(
        "POST", f"/v1/sessions/{session_id}/cancel", rng=rng, expect={200, 202}, client=shop.admin
    )
    status = "no answer" if response is None else str(response.status_code)
    shop.tally.outcomes[f"session cancel answered {status}"] += 1
    if response is not None:
        shop.tally.promises.append(
            Promise(session_id, "session", response.status_code, response.json(), {}, asked)
        )


async def read(shop: Shop, rng: random.Random, booking_id: str) -> dict[str, Any] | None:
    response = await shop.call(
        "GET", f"/v1/bookings/{booking_id}", rng=rng, patience=20, expect={200}
    )
    return None if response is None else response.json()  # type: ignore[no-any-return]


async def wait_for(
    shop: Shop, rng: random.Random, booking_id: str, statuses: set[str], within: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        booking = await read(shop, rng, booking_id)
        if booking is not None and booking["status"] in statuses:
            return booking
        await asyncio.sleep(0.3)
    return None


async def replay_webhooks(shop: Shop, rng: random.Random, booking: dict[str, Any]) -> None:
    """Stripe's at-least-once, unordered delivery: the intent's events, each sent 1-3 times
    (same event id), plus fresh ids and a stale `payment_failed`, shuffled and spread out."""
    intent_id = booking["payment"]["payment_intent_id"]
    if intent_id is None:
        return
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
        await shop.call(
            "POST", "/v1/webhooks/stripe", content=payload, headers=headers, rng=rng, expect={200}
        )


def hold_left(booking: dict[str, Any]) -> float:
    expires = datetime.fromisoformat(booking["hold_expires_at"])
    return (expires - datetime.now(UTC)).total_seconds()
