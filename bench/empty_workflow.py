"""The baseline's workflow: does nothing, so it measures the engine alone."""

from temporalio import workflow


@workflow.defn(name="BenchEmptyWorkflow")
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None
