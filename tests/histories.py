"""Keeps workflow histories of test runs as JSON for the replay tests.

`RECORD_HISTORIES=1 make test` rewrites tests/workflows/histories/ from this run.
"""

import os
from pathlib import Path

from temporalio.client import Client

from messages.booking import booking_workflow_id

HISTORIES = Path(__file__).parent / "workflows" / "histories"
# The webhook delivery workflow's, apart: the booking replay test reads every file above.
WEBHOOK_DELIVERY_HISTORIES = HISTORIES / "webhook-delivery"


async def keep_history(temporal: Client, booking_id: str, name: str) -> None:
    await keep_workflow_history(temporal, booking_workflow_id(booking_id), HISTORIES / name)


async def keep_workflow_history(
    temporal: Client, workflow_id: str, path: Path, run_id: str | None = None
) -> None:
    """The history of any workflow's run (the latest by default), as `path`.json."""
    if not os.environ.get("RECORD_HISTORIES"):
        return
    history = await temporal.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(history.to_json())
