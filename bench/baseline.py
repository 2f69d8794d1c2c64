"""The yardstick: an empty workflow and its worker (`python -m bench.baseline ADDRESS QUEUE`)."""

import sys

import uvloop

from bench.empty_workflow import EmptyWorkflow
from core.settings import get_settings
from core.temporal import connect
from workflows.registry import build_worker


async def main(address: str, task_queue: str) -> None:
    """The same worker options as the booking worker (workflows.registry.build_worker), no
    activities."""
    settings = get_settings().model_copy(
        update={"temporal_address": address, "task_queue": task_queue}
    )
    client = await connect(settings)
    worker = build_worker(client, settings, [], workflows=[EmptyWorkflow])
    print(f"baseline worker polling task queue {task_queue!r}", flush=True)
    await worker.run()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2]))
