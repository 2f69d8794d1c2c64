"""The refund recorder's committed histories replay with today's code (recorded by
tests/api/webhooks_out/test_refunds_after_close.py with RECORD_HISTORIES=1)."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.codec import encrypting_converter
from tests.conftest import TEST_PAYLOAD_KEY_ID, TEST_PAYLOAD_KEYS
from workflows.stripe_refunds import StripeRefundsWorkflow

CONVERTER = encrypting_converter(TEST_PAYLOAD_KEYS, TEST_PAYLOAD_KEY_ID)
RECORDED = sorted((Path(__file__).parent / "histories" / "stripe-refunds").glob("*.json"))


def test_histories_are_committed() -> None:
    assert RECORDED, "run test_refunds_after_close.py with RECORD_HISTORIES=1 and commit them"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"stripe-refunds-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[StripeRefundsWorkflow], data_converter=CONVERTER)
    await replayer.replay_workflow(history)
