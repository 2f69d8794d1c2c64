"""Determinism guard for the waiting-list workflow: its committed histories (recorded by
tests/waiting_list/test_waiting_list.py with RECORD_HISTORIES=1) replay against today's code."""

from pathlib import Path

import pytest

from tests.histories import WAITING_LIST_HISTORIES, replays
from workflows.waiting_list import WaitingListWorkflow

RECORDED = sorted(WAITING_LIST_HISTORIES.glob("*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in RECORDED} >= {"declined-then-lapsed", "ended-by-session-cancel"}


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    await replays(WaitingListWorkflow, f"waiting-list-{path.stem}", path)
