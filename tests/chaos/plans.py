"""What a chaos customer sets out to do with one booking, drawn at random with PLANS' weights
(after the plans the run must reach: `MUST_REACH`)."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from devstack.pay import DECLINED
from tests.chaos.customers import (
    Shop,
    book,
    cancel,
    cancel_places,
    hold_left,
    pay_card,
    read,
    refund_part,
    replay_webhooks,
    wait_for,
)

Plan = Callable[[Shop, random.Random], Awaitable[None]]
# How long a customer who paid waits to see CONFIRMED before going on (a loaded machine, a
# killed worker and Stripe's faults can each take seconds).
CONFIRMED_WITHIN = 20


async def customer(shop: Shop, rng: random.Random, number: int) -> None:
    """Book again and again until the shop closes, each time with a plan drawn at random; but
    first, customer `number` keeps to one of `MUST_REACH` in turn until some customer has
    reached its promise."""
    plans, weights = zip(*PLANS.items(), strict=True)
    must: str | None = list(MUST_REACH)[number % len(MUST_REACH)]
    while time.monotonic() < shop.stop_at:
        if must and any(p.kind == MUST_REACH[must] for p in shop.tally.promises):
            must = None
        plan = must or rng.choices(plans, weights)[0]
        shop.tally.actions[plan] += 1
        await PLAN_STEPS[plan](shop, rng)
        await asyncio.sleep(rng.uniform(0.2, 1.5))


async def plan_pay(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "pay")
    if booking is None:
        return
    await asyncio.sleep(rng.uniform(0, max(0.0, hold_left(booking) * 0.6)))
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
    await asyncio.sleep(rng.uniform(0, max(0.0, hold_left(booking) * 0.8)))
    await cancel(shop, rng, booking)
    if rng.random() < 0.3:
        await cancel(shop, rng, booking)


async def plan_pay_then_cancel(shop: Shop, rng: random.Random) -> None:
    """Cancelled once paid: refunded by the session's policy (tiers of 100, 75, 50 or 0 %)."""
    booking = await book(shop, rng, "pay then cancel")
    if booking is None:
        return
    if (await pay_card(shop, booking)) in ("succeeded", "free"):
        await wait_for(shop, rng, booking["id"], {"CONFIRMED"}, within=CONFIRMED_WITHIN)
    await cancel(shop, rng, booking)


async def plan_refund_in_part(shop: Shop, rng: random.Random) -> None:
    """Paid, then the organiser refunds part (sometimes all); the customer may cancel after."""
    booking = await book(shop, rng, "refund in part")
    if booking is None or (await pay_card(shop, booking)) != "succeeded":
        return
    confirmed = await wait_for(shop, rng, booking["id"], {"CONFIRMED"}, within=CONFIRMED_WITHIN)
    if confirmed is None:
        return
    await refund_part(shop, rng, confirmed)
    if rng.random() < 0.3:
        await cancel(shop, rng, booking)


async def plan_give_places_back(shop: Shop, rng: random.Random) -> None:
    """A group pays (or books free, on a 100 % group discount), then gives some places back."""
    booking = await book(shop, rng, "give places back", quantity=(2, 4))
    if booking is None or (await pay_card(shop, booking)) not in ("succeeded", "free"):
        return
    confirmed = await wait_for(shop, rng, booking["id"], {"CONFIRMED"}, within=CONFIRMED_WITHIN)
    if confirmed is not None:
        await cancel_places(shop, rng, confirmed)


async def plan_expire(shop: Shop, rng: random.Random) -> None:
    booking = await book(shop, rng, "let expire")
    if booking is None:
        return
    await asyncio.sleep(max(0.0, hold_left(booking)) + rng.uniform(0, 2))
    await read(shop, rng, booking["id"])


async def plan_pay_late(shop: Shop, rng: random.Random) -> None:
    """Pay around the end of the hold: before it, in the race, or after it."""
    booking = await book(shop, rng, "pay late")
    if booking is None:
        return
    await asyncio.sleep(max(0.0, hold_left(booking) + rng.uniform(-0.3, 2.0)))
    late = hold_left(booking) < 0
    outcome = await pay_card(shop, booking)
    if late and outcome != "free":
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
    "refund in part": plan_refund_in_part,
    "give places back": plan_give_places_back,
    "let expire": plan_expire,
    "pay late": plan_pay_late,
    "declined": plan_declined,
}
PLANS = {
    "pay": 24,
    "pay twice": 6,
    "cancel": 8,
    "pay then cancel": 10,
    "refund in part": 10,
    "give places back": 10,
    "let expire": 10,
    "pay late": 12,
    "declined": 6,
}
# The plans whose promises (an answer 200 or 202) the run must reach (`test_chaos._unexercised`),
# whatever the draws: drawn by weight alone, "refund in part" came up twice in a run of 40
# customers, both failed under the faults, and the run proved nothing of partial refunds.
MUST_REACH = {"refund in part": "refund", "give places back": "places", "pay then cancel": "cancel"}
