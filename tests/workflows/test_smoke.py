"""The Temporal fixture is a real server: a workflow runs an activity on it."""

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=5)
        )


async def test_a_workflow_runs_an_activity_on_the_dev_server(temporal: Client) -> None:
    task_queue = f"smoke-{uuid.uuid4()}"
    async with Worker(
        temporal, task_queue=task_queue, workflows=[GreetingWorkflow], activities=[greet]
    ):
        result = await temporal.execute_workflow(
            GreetingWorkflow.run, "operator", id=task_queue, task_queue=task_queue
        )
    assert result == "hello operator"
    history = await temporal.get_workflow_handle(task_queue).fetch_history()
    assert any(e.HasField("activity_task_completed_event_attributes") for e in history.events)
