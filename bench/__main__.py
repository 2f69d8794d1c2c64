"""`python -m bench`: bring up a private stack per Temporal server asked for, load it, print the
figures beside their budgets and the servers side by side."""

import argparse
import asyncio
import signal
import sys
import time
from datetime import UTC, datetime
from types import FrameType

from bench import receipts, report, scenarios, stack
from devstack import temporal_prod


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _servers(value: str) -> list[stack.ServerKind]:
    try:
        return [stack.ServerKind(name.strip()) for name in value.split(",") if name.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"servers are dev and prod: {err}") from err


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    plan = scenarios.Plan()
    parser.add_argument(
        "--servers",
        type=_servers,
        default=[stack.ServerKind.DEV],
        help="Temporal servers to run every scenario against, one after the other: dev, prod"
        " (the production-shaped server, built with Go if missing) or dev,prod (default: dev)",
    )
    parser.add_argument(
        "--stock-dev-server",
        action="store_true",
        help="run the Temporal dev server with its own defaults, as `make dev` does",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=plan.step_seconds,
        help=f"how long each open-loop rate is held (default {plan.step_seconds:g})",
    )
    parser.add_argument(
        "--onsale-places",
        type=int,
        default=plan.onsale_places,
        help=f"places of the hot on-sale's session (default {plan.onsale_places}; issue 13: 2000)",
    )
    parser.add_argument(
        "--onsale-buyers",
        type=int,
        default=plan.onsale_buyers,
        help=f"buyers of the hot on-sale (default {plan.onsale_buyers}; issue 13: 10000)",
    )
    return parser.parse_args()


def main() -> int:
    """0 when the run completed with correct bookings; budgets missed are reported, not fatal."""
    args = _arguments()
    plan = scenarios.Plan(args.step_seconds, args.onsale_places, args.onsale_buyers)
    dynamic_config = () if args.stock_dev_server else stack.SINGLE_HOST_DYNAMIC_CONFIG
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` tears the stack down as Ctrl-C does
    began, at = time.monotonic(), datetime.now(UTC)
    if stack.ServerKind.PROD in args.servers:
        temporal_prod.build()
    print("bench: rendering receipts in process ...", flush=True)
    receipt = receipts.receipt_rendering()
    runs: dict[str, scenarios.Results] = {}
    server_notes: list[str] = []
    try:
        for server in args.servers:
            print(f"bench [{server}]: starting PostgreSQL, Temporal, localstripe, worker, API ...")
            starting = time.monotonic()
            with stack.running(server, dynamic_config) as running:
                pids = ", ".join(f"{name} pid {pid}" for name, pid in running.pids.items())
                print(
                    f"bench [{server}]: stack up after {time.monotonic() - starting:.0f} s"
                    f" ({pids}); loading it",
                    flush=True,
                )
                runs[server] = asyncio.run(scenarios.run_all(running, plan))
                server_notes += [f"[{server}] {n}" for n in report.server_notes(running)]
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started was stopped", file=sys.stderr)
        return 130
    tables = {server: report.rows(results, receipt) for server, results in runs.items()}
    notes = server_notes + report.notes(time.monotonic() - began)
    report.print_run(runs, tables, notes)
    path = report.write_json(runs, receipt, tables, notes, at)
    charts = [report.draw_latency(next(iter(runs.values()))), report.draw_open_loop(runs)]
    print(f"\nbench: wrote {path}, {report.RESULTS / 'latest.json'}, {', '.join(map(str, charts))}")
    return 0 if all(_correct(results) for results in runs.values()) else 1


def _correct(results: scenarios.Results) -> bool:
    """Every booking right: the races sold exactly their places, no closed-loop call failed."""
    return (
        results.contention.exact
        and results.onsale.exact
        and not results.full.errors
        and not any(level.errors for level in results.start)
    )


if __name__ == "__main__":
    sys.exit(main())
