"""The refund recorder's committed histories replay with today's code (recorded by
tests/api/webhooks_out/test_refunds_after_close.py with RECORD_HISTORIES=1)."""

from pathlib import Path

import pytest

from tests.histories import replays
from workflows.stripe_refunds import StripeRefundsWorkflow

RECORDED = sorted((Path(__file__).parent / "histories" / "stripe-refunds").glob("*.json"))


def test_histories_are_committed() -> None:
    assert RECORDED, "run test_refunds_after_close.py with RECORD_HISTORIES=1 and commit them"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    await replays(StripeRefundsWorkflow, f"stripe-refunds-{path.stem}", path)
