"""The yardstick: an empty workflow and its worker (`python -m bench.baseline ADDRESS QUEUE`)."""

import asyncio
import sys

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn(name="BenchEmptyWorkflow")
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


async def main(address: str, task_queue: str) -> None:
    """Worker options left at their defaults, as worker.py leaves them for the booking worker."""
    client = await Client.connect(address)
    worker = Worker(client, task_queue=task_queue, workflows=[EmptyWorkflow])
    print(f"baseline worker polling task queue {task_queue!r}", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
