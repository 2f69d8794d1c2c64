"""Determinism guard for the workflow that announces a session's change: its committed histories
(recorded by tests/session_changes/test_session_changes.py with RECORD_HISTORIES=1) replay
against today's code. The booking workflow's histories of a change are among its own
(tests/workflows/test_replay.py: `session-change-*`)."""

from pathlib import Path

import pytest

from tests.histories import SESSION_CHANGE_HISTORIES, replays
from workflows.session_change import SessionChangeWorkflow

RECORDED = sorted(SESSION_CHANGE_HISTORIES.glob("*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in RECORDED} >= {"two-bookings-told"}


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    await replays(SessionChangeWorkflow, f"session-change-{path.stem}", path)
