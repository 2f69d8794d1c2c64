"""`booking-ops reconcile`: check invariants I1 to I5, I7 and I8 against PostgreSQL, Temporal
and Stripe."""

import re
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import Progress, TaskID

from ops.commands.display import (
    console,
    moment,
    print_json,
    progress_bar,
    sessions_option,
    table,
)
from ops.commands.runtime import FOUND_PROBLEMS, OK, run, services, settings_or_exit
from reconcile.consistency import Report, check
from reconcile.findings import DEFAULT_EMAIL_BOUND
from reconcile.progress import Progress as Phases

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _since(value: str) -> datetime:
    match = _DURATION.match(value.strip())
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        return moment(value)
    except typer.BadParameter:
        raise typer.BadParameter(f"{value!r}: give a duration (30m, 12h, 3d) or a date") from None


def reconcile(
    session: Annotated[
        list[str] | None,
        sessions_option("Check only this session's places, bookings and payments (repeatable)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            parser=_since,
            metavar="WHEN",
            help="Check only payments and bookings created since: a duration (30m, 12h, 3d) "
            "or an ISO date. Default: everything Stripe lists.",
        ),
    ] = None,
    settle_seconds: Annotated[
        float,
        typer.Option(min=0, help="Leave alone bookings created or changed this recently."),
    ] = 5.0,
    hold_grace_seconds: Annotated[
        float,
        typer.Option(min=0, help="A hold this long past its end counts as stuck (I3)."),
    ] = 120.0,
    email_stuck_minutes: Annotated[
        float,
        typer.Option(
            min=0, help="An email still sending this long after its first attempt is stuck (I4)."
        ),
    ] = DEFAULT_EMAIL_BOUND.total_seconds() / 60,
    recheck_seconds: Annotated[
        float,
        typer.Option(min=0, help="Look again after this long; report what both looks saw."),
    ] = 1.0,
    concurrency: Annotated[
        int, typer.Option(min=1, max=200, help="Temporal calls in flight at once.")
    ] = 20,
    query: Annotated[
        bool,
        typer.Option(
            help="Ask running workflows for their status (needs a worker); with --no-query, "
            "read their BookingStatus search attribute.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar (on a terminal only).")
    ] = True,
) -> None:
    """Check invariants I1 to I5, I7 and I8: places, money and each booking's refunds against
    Stripe, receipts, credit notes and emails, and that the database mirrors each workflow.
    Exit 0 when all hold, 1 when anything is off."""
    settings = settings_or_exit()
    show_progress = progress and not as_json and sys.stderr.isatty()

    async def work() -> Report:
        async with services(settings) as found:
            with progress_bar("{task.description:<20}", enabled=show_progress) as bar:
                return await check(
                    found.db,
                    found.temporal,
                    found.stripe,
                    session_ids=session,
                    settle_seconds=settle_seconds,
                    hold_grace=timedelta(seconds=hold_grace_seconds),
                    email_bound=timedelta(minutes=email_stuck_minutes),
                    created_since=since,
                    concurrency=concurrency,
                    query_workflows=query,
                    recheck_seconds=recheck_seconds,
                    progress=_phases(bar) if show_progress else None,
                )

    report = run(work())
    if as_json:
        print_json(_as_json(report))
    else:
        _print(report)
    raise typer.Exit(OK if report.ok else FOUND_PROBLEMS)


def _as_json(report: Report) -> dict[str, object]:
    return {
        "ok": report.ok,
        "violations": [
            {
                "invariant": v.invariant.value,
                "meaning": v.invariant.meaning,
                "rule": v.rule,
                "subject": v.subject,
                "detail": v.detail,
            }
            for v in report.violations
        ],
        "counts": asdict(report.counts),
    }


def _print(report: Report) -> None:
    out = console()
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in asdict(report.counts).items())
    if report.ok:
        out.print(f"no violations ({counts})")
        return
    rows = [
        (f"{v.invariant.value} {v.invariant.meaning}", v.rule, v.subject, v.detail)
        for v in report.violations
    ]
    columns = ("invariant", "rule", "subject", "detail")
    out.print(table(f"{len(report.violations)} violation(s)", columns, rows))
    out.print(f"examined: {counts}")


def _phases(bar: Progress) -> Phases:
    """A bar per phase of the check."""
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return update
