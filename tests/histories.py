"""Keeps workflow histories of test runs as JSON for the replay tests, and replays them.

`RECORD_HISTORIES=1 make test` rewrites tests/workflows/histories/ from this run.
"""

import os
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from core.codec import encrypting_converter
from messages.booking import booking_workflow_id
from tests.conftest import TEST_PAYLOAD_KEY_ID, TEST_PAYLOAD_KEYS

HISTORIES = Path(__file__).parent / "workflows" / "histories"
# The webhook delivery workflow's, apart: the booking replay test reads every file above.
WEBHOOK_DELIVERY_HISTORIES = HISTORIES / "webhook-delivery"
# The waiting-list workflow's (tests/workflows/test_replay_waiting_list.py).
WAITING_LIST_HISTORIES = HISTORIES / "waiting-list"
# The session-change workflow's (tests/workflows/test_replay_session_change.py).
SESSION_CHANGE_HISTORIES = HISTORIES / "session-change"
# The payload keys the histories were recorded under.
RECORDED_UNDER = encrypting_converter(TEST_PAYLOAD_KEYS, TEST_PAYLOAD_KEY_ID)


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


async def replays(
    workflow: type, workflow_id: str, path: Path, converter: DataConverter = RECORDED_UNDER
) -> None:
    """The committed history at `path` replays against today's code of `workflow`."""
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    await Replayer(workflows=[workflow], data_converter=converter).replay_workflow(history)
