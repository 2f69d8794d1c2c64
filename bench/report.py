"""The results side by side with BRIEF §6 and issue 13: per server a table and a CPU table on
stdout, then the servers side by side; JSON files and two latency charts."""

import json
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench import figures
from bench.cpu import NOT_OURS, OURS
from bench.load import PERCENTILE_METHOD, Latency
from bench.open_loop import (
    DESCENT,
    DRAIN_SECONDS,
    GROWTH_LIMIT,
    LADDER,
    MAX_STRETCH,
    MIN_CALLS,
    P95_LIMIT_MS,
)
from bench.rows import Row
from bench.rows import ms as _ms
from bench.scenarios import (
    LOCALSTRIPE_WEBHOOK_DELAY,
    POLL_EVERY,
    POLL_FROM,
    Results,
)
from bench.stack import ServerKind, Stack
from core.settings import PROJECT_ROOT
from devstack.temporal_prod import HISTORY_SHARDS, SERVER_VERSION

RESULTS = Path(__file__).parent / "results"
DOCS_CHART = PROJECT_ROOT / "docs" / "bench-latency.png"
DOCS_OPEN_LOOP_CHART = PROJECT_ROOT / "docs" / "bench-open-loop.png"
START_P95_BUDGET_MS, START_BUDGET_CONCURRENCY = 150, 20
CONFIRM_P95_BUDGET_MS = 1000
RECEIPT_P95_BUDGET_MS = 25
THROUGHPUT_BUDGET_RATIO = 0.5
RSS_BUDGET_MB = 250


def _answers(outcomes: dict[str, int], success: str) -> str:
    return ", ".join(f"{outcome} x{n}" for outcome, n in outcomes.items() if outcome != success)


def rows(results: Results, receipt: Latency) -> list[Row]:
    """Every figure beside its budget; rows without a budget give context."""
    base, full, race = results.baseline, results.full, results.contention
    ratio = full.per_second / base.per_second if base.per_second else 0.0
    table = [
        Row(
            f"Baseline: empty workflows, N={base.workflows}, {base.concurrency} concurrent",
            f"{base.per_second:.1f} wf/s",
        ),
        # An empty workflow's own latency at the start budget's concurrency: the floor under it.
        Row("  its latency: p50 / p95 / p99", _ms(base.latency)),
    ]
    for level in results.start:
        budgeted = level.concurrency == START_BUDGET_CONCURRENCY
        table.append(
            Row(
                f"Start booking, {level.concurrency} concurrent: p50 / p95 / p99",
                _ms(level.latency),
                f"p95 <= {START_P95_BUDGET_MS} ms" if budgeted else "",
                level.latency.p95_ms <= START_P95_BUDGET_MS if budgeted else None,
            )
        )
        table.append(
            Row(
                f"  throughput ({level.created}/{level.requests} created, {level.errors} errors)",
                f"{level.per_second:.1f} bookings/s",
            )
        )
        if level.errors:
            table.append(Row("  failed calls", _answers(level.outcomes, "201"), "none", False))
    table += [
        Row(
            f"Full booking (start, pay, webhook, CONFIRMED), {full.concurrency} concurrent",
            f"{full.per_second:.1f} bookings/s",
        ),
        Row(
            f"  ... / baseline ({full.confirmed}/{full.bookings} confirmed)",
            f"{ratio:.2f} x",
            f">= {THROUGHPUT_BUDGET_RATIO} x",
            ratio >= THROUGHPUT_BUDGET_RATIO,
        ),
    ]
    if full.errors:
        table.append(Row("  failed bookings", _answers(full.outcomes, "CONFIRMED"), "none", False))
    table += [
        Row(
            "Webhook in -> CONFIRMED (arrival at the API to commit): p50 / p95 / p99",
            _ms(full.db_clock_event_to_confirmed),
            f"p95 <= {CONFIRM_P95_BUDGET_MS} ms",
            full.db_clock_event_to_confirmed.p95_ms <= CONFIRM_P95_BUDGET_MS,
        ),
        Row(
            "  seen by the caller: pay() -> GET says CONFIRMED", _ms(full.webhook_to_confirmed_raw)
        ),
        Row(
            f"  the same, net of localstripe's fixed {LOCALSTRIPE_WEBHOOK_DELAY:.0f} s sleep",
            _ms(full.webhook_to_confirmed_net),
        ),
        Row(
            f"Contention: {race.buyers} buyers, {race.places} places, {race.concurrency} at a time",
            f"{race.created} created, held {race.sold.held}, sold {race.sold.sold}, "
            f"{race.sold.seats_twice} seats twice",
            f"exactly {race.places}, none twice",
            race.exact,
        ),
        Row(
            "  409 share / time to settle",
            f"{race.conflicts / max(race.buyers, 1):.0%} / {race.settle_seconds:.1f} s",
        ),
        Row("  answers", _answers(race.outcomes, ""), "201 and 409 only", race.other == 0),
        Row(
            f"Receipt PDF in process, {receipt.count} renders: p50 / p95 / p99",
            _ms(receipt),
            f"p95 <= {RECEIPT_P95_BUDGET_MS} ms",
            receipt.p95_ms <= RECEIPT_P95_BUDGET_MS,
        ),
    ]
    table += figures.open_loop_rows(results) + figures.onsale_rows(results)
    table += figures.cpu_rows(results)
    for name, footprint in results.memory.items():
        table.append(
            Row(
                f"Peak RSS of the {name} (VmHWM; max sampled VmRSS)",
                f"{footprint.peak_rss_mb:.0f} MB ({footprint.max_sampled_rss_mb:.0f} MB)",
                f"< {RSS_BUDGET_MB} MB",
                footprint.peak_rss_mb < RSS_BUDGET_MB,
            )
        )
    return table


def server_notes(stack: Stack) -> list[str]:
    """How one stack ran (read while it is up)."""
    if stack.options.temporal is ServerKind.PROD:
        temporal = (
            f"production-shaped Temporal server {SERVER_VERSION} (devstack/temporal_prod.py):"
            f" {HISTORY_SHARDS} history shards, PostgreSQL persistence and SQL visibility in the"
            " same private cluster as the booking database, default dynamic config"
        )
    elif stack.dynamic_config:
        temporal = (
            f"dev server in memory, dynamic config {', '.join(stack.dynamic_config)} (one host"
            " behaving like a cluster; see bench/README.md)"
        )
    else:
        temporal = "dev server in memory with its own defaults, as `make dev` runs it"
    lines = [f"Temporal: {temporal}."]
    if stack.inherited_settings:
        lines.append(f"Settings taken from the environment: {sorted(stack.inherited_settings)}.")
    return lines


def notes(wall_seconds: float) -> list[str]:
    """How the figures were taken, so the tables are not read for more than they say."""
    return [
        "PostgreSQL: private cluster, durable=False (fsync, synchronous_commit and full-page"
        " writes off): faster than production, and lost on a crash. localstripe keeps no store.",
        "Python subprocesses cache bytecode in the run's temporary folder (PYTHONDONTWRITEBYTECODE"
        " is dropped), so a sandboxed worker (BOOKING_WORKER_SANDBOX=true) does not recompile"
        " workflows/ for every new workflow; the production worker runs unsandboxed.",
        f"Percentiles: {PERCENTILE_METHOD}.",
        "Open loop: each call is due at a fixed time (rate x step) and starts then whether or not"
        " earlier calls answered; its latency counts from when it was due. Rates are"
        f" {', '.join(f'{m:g}' for m in LADDER)} x the closed-loop figure, each held the step's"
        f" seconds or long enough for {MIN_CALLS} calls (at most {MAX_STRETCH} x), up to the"
        " first rate that is not sustainable, then one halfway back (or down by halves when"
        f" the lowest failed, at most {DESCENT} times), then half the best."
        f" Sustainable: p95 < {P95_LIMIT_MS:.0f} ms, no failed call, and no growing backlog"
        " (calls due, not answered): growing is a least-squares slope over the step's second half"
        f" above {GROWTH_LIMIT:.0%} of the rate per second with, at the end, more calls waiting"
        f" than {P95_LIMIT_MS:.0f} ms of arrivals. Calls not answered {DRAIN_SECONDS:.0f} s"
        " after the last was due count as failed.",
        "CPU: user + system time from /proc, of each process with its reaped children and living"
        " descendants (PostgreSQL: the postmaster and all its backends), read before and after"
        " each scenario's measured calls and divided by the units completed; the load driver is"
        f" this process alone. Ours: {' + '.join(OURS)}; not ours: {' + '.join(NOT_OURS)}. The"
        " empty workflow's worker is the baseline worker. Work left running after a scenario"
        " (expiries, emails) falls in later windows.",
        "Webhook in -> CONFIRMED: stripe_events.received_at (stamped by the API as the webhook"
        " arrives) to bookings.confirmed_at (stamped by PostgreSQL in the confirming"
        " transaction); one machine, one clock.",
        f"Seen by the caller: from pay() returning 'succeeded' to GET /v1/bookings/{{id}}"
        f" reading CONFIRMED (polled every {POLL_EVERY * 1000:.0f} ms from {POLL_FROM} s on; no"
        f" earlier confirmation is possible). localstripe sleeps {LOCALSTRIPE_WEBHOOK_DELAY:.0f} s"
        " before sending each webhook (real Stripe does not); net = that minus the sleep.",
        "Everything (servers, load driver) shares this machine's CPUs; the driver's own time is"
        " inside every latency. Servers run one after the other in one run: compare ratios.",
        f"Wall time of the whole run: {wall_seconds:.0f} s.",
    ]


def print_table(table: list[Row]) -> None:
    widths = [
        max(len(getattr(row, column)) for row in table)
        for column in ("figure", "measured", "budget")
    ]
    header = ("figure", "measured", "budget (BRIEF §6, issue 13)", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths), "-------"))
    for row in table:
        print(line.format(row.figure, row.measured, row.budget, row.verdict).rstrip())


def print_run(runs: dict[str, Results], tables: dict[str, list[Row]], notes: list[str]) -> None:
    """Per server its table and CPU table, then the servers side by side, then the notes."""
    for server, results in runs.items():
        print(f"\n=== Temporal {server} server ===\n")
        print_table(tables[server])
        print()
        figures.print_grid(figures.cpu_table(results))
    if len(runs) > 1:
        print("\n=== side by side ===\n")
        figures.print_grid(figures.side_by_side(runs))
    print()
    for note in notes:
        print(f"* {note}")


def write_json(
    runs: dict[str, Results],
    receipt: Latency,
    tables: dict[str, list[Row]],
    notes: list[str],
    at: datetime,
) -> Path:
    document: dict[str, Any] = {
        "at": at.isoformat(),
        "servers": {
            server: {
                "results": asdict(results),
                "max_sustainable": {
                    "empty_workflows": results.empty_ladder.max_sustainable,
                    "booking_starts": results.start_ladder.max_sustainable,
                },
                "cpu_ms_per_unit": {
                    name: window.per_unit_ms
                    for name, window in figures.cpu_windows(results).items()
                },
                "table": [{**asdict(row), "verdict": row.verdict} for row in tables[server]],
            }
            for server, results in runs.items()
        },
        "side_by_side": figures.side_by_side(runs),
        "receipt": asdict(receipt),
        "notes": notes,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{at:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    shutil.copyfile(path, RESULTS / "latest.json")
    return path


def _saved(figure: Figure, axes: Axes, path: Path, docs_copy: Path) -> Path:
    """The chart with its grid and legend, written to `path` and copied for the docs."""
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    shutil.copyfile(path, docs_copy)
    return path


def draw_open_loop(runs: dict[str, Results]) -> Path:
    """Booking-start p50 and p95 by offered rate, one line per server, with the 500 ms limit."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for server, results in runs.items():
        steps = sorted(results.start_ladder.steps, key=lambda step: step.rate)
        rates = [step.rate for step in steps]
        for name, style in (("p50_ms", "o--"), ("p95_ms", "s-")):
            values = [getattr(step.latency, name) for step in steps]
            axes.plot(rates, values, style, label=f"{server} {name.removesuffix('_ms')}")
    axes.axhline(P95_LIMIT_MS, color="red", linestyle="--", linewidth=1)
    axes.set_xlabel("offered rate (booking starts per second, open loop)")
    axes.set_ylabel("POST /v1/bookings latency from due time (ms)")
    axes.set_title(f"Booking starts at fixed rates: sustainable while p95 < {P95_LIMIT_MS:.0f} ms")
    axes.set_yscale("log")
    return _saved(figure, axes, RESULTS / "open-loop.png", DOCS_OPEN_LOOP_CHART)


def draw_latency(results: Results) -> Path:
    """p50 / p95 / p99 of booking start by number of concurrent callers, with the budget."""
    levels = [level.concurrency for level in results.start]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        values = [getattr(level.latency, name) for level in results.start]
        axes.plot(levels, values, style, label=name.removesuffix("_ms"))
    axes.axhline(START_P95_BUDGET_MS, color="red", linestyle="--", linewidth=1)
    axes.annotate(
        f"budget: p95 ≤ {START_P95_BUDGET_MS} ms at {START_BUDGET_CONCURRENCY} callers",
        (levels[-1], START_P95_BUDGET_MS),
        textcoords="offset points",
        xytext=(0, 5),
        horizontalalignment="right",
        color="red",
        fontsize=8,
    )
    axes.set_xticks(levels)
    axes.set_xlabel("concurrent callers")
    axes.set_ylabel("POST /v1/bookings latency (ms)")
    axes.set_title("Booking start latency by concurrency (nearest-rank percentiles)")
    axes.set_ylim(bottom=0)
    return _saved(figure, axes, RESULTS / "latency.png", DOCS_CHART)
