"""The bench's stack: devstack's whole system, plus the worker of the empty-workflow baseline."""

from collections.abc import Iterator
from contextlib import contextmanager

from devstack.stack import WORKER_READY, Stack, StackOptions, logged
from devstack.stack import running as running_stack
from devstack.temporal_server import SINGLE_HOST_DYNAMIC_CONFIG, ServerKind

BOOKING_QUEUE = "bench-bookings"
BASELINE_QUEUE = "bench-empty"

__all__ = [
    "BASELINE_QUEUE",
    "BOOKING_QUEUE",
    "SINGLE_HOST_DYNAMIC_CONFIG",
    "ServerKind",
    "Stack",
    "processes",
    "running",
]


@contextmanager
def running(
    server: ServerKind = ServerKind.DEV,
    dynamic_config: tuple[str, ...] = SINGLE_HOST_DYNAMIC_CONFIG,
) -> Iterator[Stack]:
    """Start every component; on the way out (success, error or Ctrl-C) stop them all."""
    options = StackOptions(
        task_queue=BOOKING_QUEUE,
        temporal=server,
        dynamic_config=dynamic_config,
        folder_prefix=f"booking-bench-{server}-",
    )
    with running_stack(options) as stack:
        baseline = stack.python_service(
            "baseline",
            *("-m", "bench.baseline", stack.temporal_address, BASELINE_QUEUE),
            ready=logged(WORKER_READY),
        )
        baseline.start()
        baseline.wait_ready()
        yield stack


def processes(stack: Stack, worker: str = "worker") -> dict[str, int]:
    """The processes whose CPU the bench reads, by the name the report gives them; `worker`
    is the stack's service that runs the workflows (the baseline's for empty workflows)."""
    pids = stack.server_pids
    return {
        "API": pids["api"],
        "worker": pids[worker],
        "Temporal": pids["temporal"],
        "PostgreSQL": pids["postgres"],
        "localstripe": pids["localstripe"],
    }
