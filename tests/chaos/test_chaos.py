"""Chaos: many customers doing random things while the worker is SIGKILLed, Temporal and
PostgreSQL restart, and Stripe and SendGrid fail through fault proxies; at rest, the
invariants hold (BRIEF section 3).

In `make test`: 40 customers, 45 s of chaos, about 85 s in all. Larger (about 5 minutes):
`CHAOS_CUSTOMERS=100 CHAOS_SECONDS=150 CHAOS_REPORT=var/chaos/large-run.json
.venv/bin/python -m pytest -m chaos -s`. `CHAOS_SEED=n` replays the same random draws (the
timing between processes still varies). Figures go to var/chaos/last-run.json, logs beside.
"""

import asyncio
import json
import random
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from activities.payments import make_stripe_client
from core.db import make_sessionmaker
from core.settings import Settings
from core.temporal import connect
from devstack.fault_proxy import Faults
from devstack.pay import DECLINED, SUCCEEDS
from devstack.stack import Stack
from ops import consistency
from tests.chaos import deliveries
from tests.chaos.conftest import REPORT, ChaosConfig
from tests.chaos.customers import Shop, Tally, customer
from tests.chaos.harness import Mayhem, quiesce, wreak
from tests.fakes.sendgrid_server import FakeSendGrid

MIN_PLACES_PER_SESSION = 8


@pytest.mark.chaos
async def test_invariants_hold_through_chaos(
    chaos_stack: Stack, chaos_sendgrid: FakeSendGrid, chaos_config: ChaosConfig
) -> None:
    stack, config = chaos_stack, chaos_config
    began = time.monotonic()
    engine = create_async_engine(stack.database_url, pool_size=2, pool_pre_ping=True)
    temporal = await connect(Settings(temporal_address=stack.temporal_address))
    tally, mayhem = Tally(), Mayhem()
    await _run(stack, config, tally, mayhem)
    chaos_ended = time.monotonic()
    for proxy in (stack.stripe_proxy, stack.sendgrid_proxy):
        if proxy is not None:  # the storm passes: from here on, the system must come to rest
            proxy.set_faults(Faults())
    stuck = await quiesce(stack, engine, temporal, config.quiesce_seconds, mayhem)
    quiet_after = time.monotonic() - chaos_ended
    violations = [
        f"not at rest after {config.quiesce_seconds:.0f} s: {d}" for d in stuck.descriptions
    ]
    violations += _vacuous(tally) + tally.violations
    checked = await consistency.check(
        make_sessionmaker(engine),
        temporal,
        make_stripe_client("sk_test_localstripe", stack.stripe_url),
        settle_seconds=1,
        hold_grace=timedelta(seconds=5),
    )
    violations += [f"{v.invariant} {v.rule} {v.subject}: {v.detail}" for v in checked.violations]
    violations += await deliveries.unconfirmed_customers(engine, chaos_sendgrid)
    violations += _personal_data_in_logs(stack, tally)
    report = await _report(stack, config, engine, chaos_sendgrid, tally, mayhem, violations)
    report |= {
        "wall_seconds": round(time.monotonic() - began, 1),
        "seconds_to_rest": round(quiet_after, 1),
        "checked": asdict(checked.counts),
    }
    await engine.dispose()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    assert not violations, f"{len(violations)} violation(s), first: {violations[0]}"


async def _run(stack: Stack, config: ChaosConfig, tally: Tally, mayhem: Mayhem) -> None:
    """The customers and the harness's mayhem, side by side for `config.seconds`; then the
    customers finish what they started."""
    rng = random.Random(config.seed)
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    limits = httpx.Limits(max_connections=config.customers * 2)
    async with httpx.AsyncClient(
        base_url=stack.api_url, headers=headers, timeout=20, limits=limits
    ) as api:
        # A few small sessions: most sell out before the end, so customers race for places.
        count = max(3, config.customers // 10)
        places = max(MIN_PLACES_PER_SESSION, round(config.customers * config.seconds / count / 10))
        sessions = await _create_sessions(stack, rng, count, places)
        shop = Shop(
            api=api,
            stripe_url=stack.stripe_url,
            stripe=make_stripe_client("sk_test_localstripe", stack.stripe_url),
            webhook_secret=stack.webhook_secret,
            sessions=list(sessions),
            hold_seconds=sessions,
            tally=tally,
            stop_at=time.monotonic() + config.seconds,
        )
        crowd = [
            asyncio.create_task(customer(shop, random.Random(f"{config.seed}/{n}")))
            for n in range(config.customers)
        ]
        await wreak(stack, config.seconds, rng, mayhem)
        await asyncio.gather(*crowd)


def _vacuous(tally: Tally) -> list[str]:
    """A run where every booking failed would prove nothing: say so."""
    if tally.outcomes["booked"] and tally.outcomes["pay succeeded"]:
        return []
    return [
        f"the run exercised nothing: {tally.outcomes['booked']} booking(s), "
        f"{tally.outcomes['pay succeeded']} payment(s); API errors {dict(tally.api_errors)}"
    ]


async def _create_sessions(
    stack: Stack, rng: random.Random, count: int, places: int
) -> dict[str, int]:
    """Small sessions with holds of 2 to 5 seconds; session id -> hold seconds."""
    sessions = {}
    starts = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=20) as admin:
        for n in range(count):
            hold = rng.randint(2, 5)
            response = await admin.post(
                "/v1/sessions",
                json={
                    "kind": "course",
                    "title": f"Chaos session {n}",
                    "location": "Bristol",
                    "starts_at": (starts + timedelta(hours=n)).isoformat(),
                    "ends_at": (starts + timedelta(hours=n + 2)).isoformat(),
                    "capacity": places,
                    "price_amount": rng.randrange(1500, 9000, 500),
                    "currency": "GBP",
                    "hold_seconds": hold,
                },
            )
            assert response.status_code == 201, response.text
            sessions[response.json()["id"]] = hold
    return sessions


async def _report(
    stack: Stack,
    config: ChaosConfig,
    engine: Any,
    sendgrid: FakeSendGrid,
    tally: Tally,
    mayhem: Mayhem,
    violations: list[str],
) -> dict[str, Any]:
    async with engine.connect() as db:
        statuses = dict(
            (await db.execute(text("SELECT status, count(*) FROM bookings GROUP BY 1"))).all()
        )
    faults: dict[str, dict[str, int]] = {}
    for name, proxy in (("stripe", stack.stripe_proxy), ("sendgrid", stack.sendgrid_proxy)):
        if proxy is not None:
            faults[name] = await asyncio.to_thread(proxy.counts)
    report = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": config.seed,
        "customers": config.customers,
        "chaos_seconds": config.seconds,
        "bookings_by_status": statuses,
        "bookings": sum(statuses.values()),
        "plans": dict(tally.actions),
        "outcomes": dict(tally.outcomes),
        "duplicated_webhooks": tally.outcomes["webhooks duplicated"],
        "emails_delivered_more_than_once": {
            key: times for key, times in deliveries.deliveries(sendgrid).items() if times > 1
        },
        "late_payments": {k: v for k, v in tally.outcomes.items() if k.startswith("late payment")},
        "mayhem": dict(mayhem.counts),
        "timeline": mayhem.log,
        "faults_injected": faults,
        "api_errors_seen_by_customers": {
            what: {
                "count": n,
                "first_at": tally.api_error_window[what][0],
                "last_at": tally.api_error_window[what][1],
            }
            for what, n in sorted(tally.api_errors.items())
        },
        "violations": violations,
        "violating_bookings": tally.story_of(violations),
    }
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nchaos: seed {report['seed']}, {report['customers']} customers, "
        f"{report['chaos_seconds']:.0f} s of chaos, {report['wall_seconds']} s wall, "
        f"at rest {report['seconds_to_rest']} s after"
    )
    for key in (
        "bookings_by_status",
        "plans",
        "outcomes",
        "mayhem",
        "faults_injected",
        "api_errors_seen_by_customers",
        "late_payments",
    ):
        print(f"chaos: {key}: {json.dumps(report[key], sort_keys=True)}")
    print(f"chaos: duplicated webhooks: {report['duplicated_webhooks']}")
    print(f"chaos: emails delivered twice or more: {report['emails_delivered_more_than_once']}")
    print(f"chaos: timeline: {'; '.join(report['timeline'])}")
    print(f"chaos: {len(report['violations'])} violation(s)")
    for violation in report["violations"]:
        print(f"chaos:   {violation}")
    for booking_id, steps in list(report["violating_bookings"].items())[:20]:
        print(f"chaos:   booking {booking_id}: {' | '.join(steps)}")
    print(f"chaos: report written to {REPORT}")


def _personal_data_in_logs(stack: Stack, tally: Tally) -> list[str]:
    """Our processes log JSON that names bookings, never customers (issue 10)."""
    secrets = {*tally.personal, SUCCEEDS, DECLINED}
    found = []
    for name in ("api", "worker"):
        lines = (stack.logs / f"{name}.log").read_text(errors="replace").splitlines()
        json_lines = sum(line.startswith("{") for line in lines)
        if not json_lines:
            found.append(f"the {name} log has no JSON line")
        leaked = sorted({s for s in secrets for line in lines if s in line})
        found += [f"the {name} log holds personal data: {s[:12]}..." for s in leaked]
    return found
