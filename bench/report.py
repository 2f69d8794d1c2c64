"""The results side by side with BRIEF §6: one table on stdout, JSON files and a latency chart."""

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.load import PERCENTILE_METHOD, Latency
from bench.scenarios import (
    LOCALSTRIPE_WEBHOOK_DELAY,
    POLL_EVERY,
    POLL_FROM,
    Results,
)
from bench.stack import Stack
from core.settings import PROJECT_ROOT

RESULTS = Path(__file__).parent / "results"
DOCS_CHART = PROJECT_ROOT / "docs" / "bench-latency.png"
START_P95_BUDGET_MS, START_BUDGET_CONCURRENCY = 150, 20
CONFIRM_P95_BUDGET_MS = 1000
RECEIPT_P95_BUDGET_MS = 25
THROUGHPUT_BUDGET_RATIO = 0.5
RSS_BUDGET_MB = 250


@dataclass
class Row:
    figure: str
    measured: str
    budget: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: ""}[self.passed]


def _ms(latency: Latency) -> str:
    return f"{latency.p50_ms:.0f} / {latency.p95_ms:.0f} / {latency.p99_ms:.0f} ms"


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
            f"{race.created} created, held {race.held}, sold {race.sold}, "
            f"{race.seats_twice} seats twice",
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


def notes(stack: Stack, wall_seconds: float) -> list[str]:
    """How the figures were taken, so the table is not read for more than it says."""
    lines = [
        "PostgreSQL: private cluster, durable=False (fsync, synchronous_commit and full-page"
        " writes off): faster than production, and lost on a crash.",
        "Temporal: dev server in memory (no --db-filename); "
        + (
            f"dynamic config {', '.join(stack.dynamic_config)} (one host behaving like a"
            " cluster; see bench/README.md)"
            if stack.dynamic_config
            else "its own defaults, as `make dev` runs it"
        )
        + ". localstripe keeps no store.",
        "Python subprocesses cache bytecode in the run's temporary folder (PYTHONDONTWRITEBYTECODE"
        " is dropped): the workflow sandbox re-imports workflows/ for every new workflow.",
        f"Percentiles: {PERCENTILE_METHOD}.",
        "Webhook in -> CONFIRMED: stripe_events.received_at (stamped by the API as the webhook"
        " arrives) to bookings.confirmed_at (stamped by PostgreSQL in the confirming"
        " transaction); one machine, one clock.",
        f"Seen by the caller: from pay() returning 'succeeded' to GET /v1/bookings/{{id}}"
        f" reading CONFIRMED (polled every {POLL_EVERY * 1000:.0f} ms from {POLL_FROM} s on; no"
        f" earlier confirmation is possible). localstripe sleeps {LOCALSTRIPE_WEBHOOK_DELAY:.0f} s"
        " before sending each webhook (real Stripe does not); net = that minus the sleep.",
        "Everything (servers, load driver) shares this machine's CPUs; the driver's own time is"
        " inside every latency.",
        f"Wall time of the whole run: {wall_seconds:.0f} s.",
    ]
    if stack.inherited_settings:
        lines.append(f"Settings taken from the environment: {sorted(stack.inherited_settings)}.")
    return lines


def print_table(table: list[Row], notes: list[str]) -> None:
    widths = [
        max(len(getattr(row, column)) for row in table)
        for column in ("figure", "measured", "budget")
    ]
    header = ("figure", "measured", "budget (BRIEF §6)", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths), "-------"))
    for row in table:
        print(line.format(row.figure, row.measured, row.budget, row.verdict).rstrip())
    print()
    for note in notes:
        print(f"* {note}")


def write_json(
    results: Results, receipt: Latency, table: list[Row], notes: list[str], at: datetime
) -> Path:
    document: dict[str, Any] = {
        "at": at.isoformat(),
        "results": asdict(results),
        "receipt": asdict(receipt),
        "table": [{**asdict(row), "verdict": row.verdict} for row in table],
        "notes": notes,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{at:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    shutil.copyfile(path, RESULTS / "latest.json")
    return path


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
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = RESULTS / "latency.png"
    figure.savefig(path)
    plt.close(figure)
    shutil.copyfile(path, DOCS_CHART)
    return path
