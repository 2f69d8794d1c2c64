"""The hot on-sale: one session, many more buyers than places arriving at a fixed rate (open
loop), groups of 1 to 4; then PostgreSQL is asked what was sold."""

import random
from dataclasses import dataclass

from bench.cpu import CpuMeter, CpuWindow
from bench.driver import Call, Driver, Sold, outcomes
from bench.load import Arrival, Latency, arrive

GROUP_SIZES = (1, 4)
DRAIN_SECONDS = 60.0


@dataclass
class OnSale:
    places: int
    buyers: int
    rate: float
    created: int
    places_in_201s: int
    conflicts: int
    other: int  # neither 201 with a client_secret nor 409, or no answer
    sold: Sold
    latency_201: Latency  # from each buyer's arrival to the answer
    latency_409: Latency
    sell_out_seconds: float | None  # first arrival to the 201 that took the last place
    outcomes: dict[str, int]
    cpu: CpuWindow  # per buyer answered

    @property
    def exact(self) -> bool:
        return (
            self.places_in_201s == self.places == self.sold.taken
            and self.sold.seats_twice == 0
            and self.sold.holders_match
            and self.other == 0
        )


def _sell_out(winners: list[Arrival[Call]], places: int) -> float | None:
    taken = 0
    for arrival in sorted(winners, key=lambda a: a.due + a.seconds):
        taken += arrival.result.body["quantity"]
        if taken >= places:
            return arrival.due + arrival.seconds
    return None


async def on_sale(driver: Driver, places: int, buyers: int, rate: float, seed: int) -> OnSale:
    """`buyers` arrive at `rate` per second for one session of `places`, each for 1 to 4."""
    session_id = await driver.new_session(places)
    groups = random.Random(seed)
    wants = [groups.randint(*GROUP_SIZES) for _ in range(buyers)]
    meter = CpuMeter(driver.processes)
    run = await arrive(
        rate, buyers / rate, lambda i: driver.start(session_id, i, wants[i]), DRAIN_SECONDS
    )
    winners = [a for a in run.arrivals if a.result.created]
    losers = [a for a in run.arrivals if a.result.status == 409]
    labels = [a.result.outcome for a in run.arrivals] + ["no answer"] * run.unanswered
    return OnSale(
        places=places,
        buyers=buyers,
        rate=rate,
        created=len(winners),
        places_in_201s=sum(a.result.body["quantity"] for a in winners),
        conflicts=len(losers),
        other=buyers - len(winners) - len(losers),
        sold=await driver.sold(session_id, [a.result.body for a in winners]),
        latency_201=Latency.of([a.seconds for a in winners]),
        latency_409=Latency.of([a.seconds for a in losers]),
        sell_out_seconds=_sell_out(winners, places),
        outcomes=outcomes(labels),
        cpu=meter.window(len(run.arrivals)),
    )
