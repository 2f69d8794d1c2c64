"""Determinism guard: committed histories of real runs replay against today's workflow code."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.histories import HISTORIES
from workflows.booking import BookingWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_histories_are_committed() -> None:
    assert len(RECORDED) >= 7, "run `RECORD_HISTORIES=1 make test` and commit the files"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"booking-{path.stem}", path.read_text())
    await Replayer(workflows=[BookingWorkflow]).replay_workflow(history)
