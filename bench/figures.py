"""The open-loop, on-sale and CPU figures as table rows, and the servers side by side."""

from collections.abc import Callable

from bench.cpu import NOT_OURS, OURS, CpuWindow
from bench.open_loop import P95_LIMIT_MS, Ladder, Step
from bench.rows import Row, ms
from bench.scenarios import LADDER_REFERENCE, Results

# Issue 13's targets, as ratios measured in one run.
SUSTAINABLE_RATIO_TARGET = 0.6  # booking starts' max sustainable rate / empty workflows'
HALF_RATE_P95_TARGET_MS = 150.0  # booking-start p95 at half the max sustainable rate
WORKER_CPU_RATIO_TARGET = 2.0  # worker CPU per booking start / per empty workflow


def _step_row(what: str, step: Step) -> Row:
    return Row(
        f"  {what} at {step.rate:g}/s for {step.seconds:.0f} s: p50 / p95 / p99",
        f"{ms(step.latency)}; {step.achieved_per_second:.1f}/s done, {step.failed} failed,"
        f" backlog {step.backlog_growth:+.1f}/s ({step.backlog_at_end} at end)",
        f"p95 < {P95_LIMIT_MS:.0f} ms, backlog flat",
        step.sustainable,
    )


def ladder_rows(ladder: Ladder, unit: str) -> list[Row]:
    table = [
        Row(
            f"Open loop, {ladder.what} (rates x {ladder.reference_per_second:.1f}/s,"
            f" the closed-loop figure)",
            f"max sustainable {ladder.max_sustainable:g} {unit}",
        )
    ]
    table += [_step_row(ladder.what, step) for step in ladder.steps]
    return table


def open_loop_rows(results: Results) -> list[Row]:
    empty, starts = results.empty_ladder, results.start_ladder
    ratio = starts.max_sustainable / empty.max_sustainable if empty.max_sustainable else 0.0
    table = ladder_rows(empty, "wf/s") + ladder_rows(starts, "bookings/s")
    table.append(
        Row(
            "Max sustainable booking starts / empty workflows",
            f"{starts.max_sustainable:g} / {empty.max_sustainable:g} = {ratio:.2f} x",
            f">= {SUSTAINABLE_RATIO_TARGET} x (issue 13)",
            ratio >= SUSTAINABLE_RATIO_TARGET,
        )
    )
    if starts.half is not None:
        half = starts.half
        table.append(
            Row(
                f"Booking starts at half of it ({half.rate:g}/s): p50 / p95 / p99",
                ms(half.latency),
                f"p95 <= {HALF_RATE_P95_TARGET_MS:.0f} ms (issue 13)",
                half.latency.p95_ms <= HALF_RATE_P95_TARGET_MS and half.failed == 0,
            )
        )
    return table


def onsale_rows(results: Results) -> list[Row]:
    sale = results.onsale
    answers = ", ".join(f"{outcome} x{n}" for outcome, n in sale.outcomes.items())
    sell_out = f"{sale.sell_out_seconds:.1f} s" if sale.sell_out_seconds is not None else "never"
    return [
        Row(
            f"Hot on-sale: {sale.buyers} buyers at {sale.rate:g}/s, groups of 1-4,"
            f" {sale.places} places",
            f"{sale.places_in_201s} places in {sale.created} x 201; {sale.sold.taken} taken in"
            f" PostgreSQL, {sale.sold.seats_twice} twice",
            f"exactly {sale.places}, none twice",
            sale.exact,
        ),
        Row("  answers", answers, "201 and 409 only", sale.other == 0),
        Row("  201 answers: p50 / p95 / p99", ms(sale.latency_201)),
        Row("  409 answers: p50 / p95 / p99", ms(sale.latency_409)),
        Row("  time to sell out (first arrival to the 201 that took the last place)", sell_out),
    ]


def cpu_windows(results: Results) -> dict[str, CpuWindow]:
    """The scenarios whose CPU is reported, by the name of their unit of work."""
    return {
        "empty workflow": results.baseline.cpu,
        f"booking start ({LADDER_REFERENCE} callers)": results.reference_level.cpu,
        "full booking": results.full.cpu,
        "on-sale buyer": results.onsale.cpu,
    }


def cpu_table(results: Results) -> list[list[str]]:
    """Milliseconds of CPU per unit of work, by process, with ours and not ours summed apart."""
    windows = cpu_windows(results)
    per_unit = {name: window.per_unit_ms for name, window in windows.items()}

    def line(label: str, processes: tuple[str, ...]) -> list[str]:
        return [label, *(f"{sum(m[p] for p in processes):.1f}" for m in per_unit.values())]

    table = [["CPU ms per unit", *windows]]
    table += [line(name, (name,)) for name in OURS] + [line("= ours", OURS)]
    table += [line(name, (name,)) for name in NOT_OURS] + [line("= not ours", NOT_OURS)]
    table.append(["units measured", *(str(window.units) for window in windows.values())])
    return table


def cpu_rows(results: Results) -> list[Row]:
    empty = results.baseline.cpu.per_unit_ms["worker"]
    start = results.reference_level.cpu.per_unit_ms["worker"]
    ratio = start / empty if empty else 0.0
    return [
        Row(
            "Worker CPU per booking start / per empty workflow",
            f"{start:.1f} / {empty:.1f} ms = {ratio:.1f} x",
            f"<= {WORKER_CPU_RATIO_TARGET:g} x (issue 13)",
            ratio <= WORKER_CPU_RATIO_TARGET,
        )
    ]


def _ours(window: CpuWindow) -> float:
    return sum(window.per_unit_ms[name] for name in OURS)


# The figures compared across servers: label -> the figure of one run.
SIDE_BY_SIDE: dict[str, Callable[[Results], str]] = {
    "empty workflows, closed loop (20 callers)": lambda r: f"{r.baseline.per_second:.1f} wf/s",
    "empty workflows, max sustainable (open loop)": lambda r: (
        f"{r.empty_ladder.max_sustainable:g} wf/s"
    ),
    "booking starts, closed loop (20 callers)": lambda r: f"{r.reference_level.per_second:.1f}/s",
    "booking starts, max sustainable (open loop)": lambda r: (
        f"{r.start_ladder.max_sustainable:g}/s"
    ),
    "booking-start p95 at half the max": lambda r: (
        f"{r.start_ladder.half.latency.p95_ms:.0f} ms" if r.start_ladder.half else "-"
    ),
    "full bookings / empty workflows (closed loop)": lambda r: (
        f"{r.full.per_second / r.baseline.per_second:.2f} x" if r.baseline.per_second else "-"
    ),
    "CPU ms ours per empty workflow": lambda r: f"{_ours(r.baseline.cpu):.1f}",
    "CPU ms ours per booking start": lambda r: f"{_ours(r.reference_level.cpu):.1f}",
    "CPU ms ours per full booking": lambda r: f"{_ours(r.full.cpu):.1f}",
    "  of which Temporal server": lambda r: f"{r.full.cpu.per_unit_ms['Temporal']:.1f}",
    "  of which PostgreSQL": lambda r: f"{r.full.cpu.per_unit_ms['PostgreSQL']:.1f}",
    "hot on-sale: exact, time to sell out": lambda r: (
        f"{'yes' if r.onsale.exact else 'NO'}, "
        + (f"{r.onsale.sell_out_seconds:.1f} s" if r.onsale.sell_out_seconds else "never")
    ),
    "hot on-sale: p95 of 201 / 409": lambda r: (
        f"{r.onsale.latency_201.p95_ms:.0f} / {r.onsale.latency_409.p95_ms:.0f} ms"
    ),
}


def side_by_side(runs: dict[str, Results]) -> list[list[str]]:
    """One line per figure, one column per server."""
    return [["figure", *runs]] + [
        [label, *(figure(results) for results in runs.values())]
        for label, figure in SIDE_BY_SIDE.items()
    ]


def print_grid(grid: list[list[str]]) -> None:
    widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]
    for n, line in enumerate(grid):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
