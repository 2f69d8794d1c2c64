"""The bench's stack: devstack's whole system, plus the worker of the empty-workflow baseline."""

from collections.abc import Iterator
from contextlib import contextmanager

from devstack.stack import WORKER_READY, Stack, StackOptions, logged
from devstack.stack import running as running_stack
from devstack.temporal_server import SINGLE_HOST_DYNAMIC_CONFIG

BOOKING_QUEUE = "bench-bookings"
BASELINE_QUEUE = "bench-empty"

__all__ = ["BASELINE_QUEUE", "BOOKING_QUEUE", "SINGLE_HOST_DYNAMIC_CONFIG", "Stack", "running"]


@contextmanager
def running(dynamic_config: tuple[str, ...] = SINGLE_HOST_DYNAMIC_CONFIG) -> Iterator[Stack]:
    """Start every component; on the way out (success, error or Ctrl-C) stop them all."""
    options = StackOptions(
        task_queue=BOOKING_QUEUE, dynamic_config=dynamic_config, folder_prefix="booking-bench-"
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
