"""Keeps workflow histories of test runs as JSON for the replay tests.

`RECORD_HISTORIES=1 make test` rewrites tests/workflows/histories/ from this run.
"""

import os
from pathlib import Path

from temporalio.client import Client

from models.booking import booking_workflow_id

HISTORIES = Path(__file__).parent / "workflows" / "histories"


async def keep_history(temporal: Client, booking_id: str, name: str) -> None:
    if not os.environ.get("RECORD_HISTORIES"):
        return
    history = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).fetch_history()
    HISTORIES.mkdir(parents=True, exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
