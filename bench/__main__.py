"""`python -m bench`: bring up a private stack, load it, print the figures beside their budgets."""

import argparse
import asyncio
import signal
import sys
import time
from datetime import UTC, datetime
from types import FrameType

from bench import receipts, report, scenarios, stack


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """0 when the run completed with correct bookings; budgets missed are reported, not fatal."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--stock-dev-server",
        action="store_true",
        help="run the Temporal dev server with its own defaults, as `make dev` does",
    )
    args = parser.parse_args()
    dynamic_config = () if args.stock_dev_server else stack.SINGLE_HOST_DYNAMIC_CONFIG
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` tears the stack down as Ctrl-C does
    began, at = time.monotonic(), datetime.now(UTC)
    print("bench: rendering receipts in process ...", flush=True)
    receipt = receipts.receipt_rendering()
    print("bench: starting PostgreSQL, Temporal, localstripe, worker and API ...", flush=True)
    try:
        with stack.running(dynamic_config) as running:
            pids = ", ".join(f"{name} pid {pid}" for name, pid in running.pids.items())
            print(
                f"bench: stack up after {time.monotonic() - began:.0f} s ({pids}); loading it",
                flush=True,
            )
            results = asyncio.run(scenarios.run_all(running))
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started was stopped", file=sys.stderr)
        return 130
    table = report.rows(results, receipt)
    notes = report.notes(running, time.monotonic() - began)
    print()
    report.print_table(table, notes)
    path = report.write_json(results, receipt, table, notes, at)
    chart = report.draw_latency(results)
    print(f"\nbench: wrote {path}, {report.RESULTS / 'latest.json'}, {chart}, {report.DOCS_CHART}")
    correct = results.contention.exact and not results.full.errors
    return 0 if correct and not any(level.errors for level in results.start) else 1


if __name__ == "__main__":
    sys.exit(main())
