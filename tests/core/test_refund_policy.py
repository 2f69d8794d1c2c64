"""Which tier of a refund policy applies, at its boundaries to the microsecond."""

from datetime import UTC, datetime, timedelta

from core.refund_policy import DEFAULT_POLICY, RefundTier, refund_amount, refund_percent, tiers_of

STARTS = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
POLICY = [RefundTier(days_before=14, percent=100), RefundTier(days_before=7, percent=50)]
TICK = timedelta(microseconds=1)


def test_each_tier_holds_up_to_and_including_its_moment() -> None:
    fourteen, seven = STARTS - timedelta(days=14), STARTS - timedelta(days=7)
    assert refund_percent(POLICY, STARTS, fourteen - timedelta(days=30)) == 100
    assert refund_percent(POLICY, STARTS, fourteen) == 100
    assert refund_percent(POLICY, STARTS, fourteen + TICK) == 50
    assert refund_percent(POLICY, STARTS, seven) == 50
    assert refund_percent(POLICY, STARTS, seven + TICK) == 0
    assert refund_percent(POLICY, STARTS, STARTS) == 0


def test_the_default_refunds_in_full_until_the_start_and_an_empty_policy_never() -> None:
    assert tiers_of(None) == list(DEFAULT_POLICY)
    assert refund_percent(tiers_of(None), STARTS, STARTS) == 100
    assert refund_percent(tiers_of(None), STARTS, STARTS + TICK) == 0
    assert refund_percent(tiers_of([]), STARTS, STARTS - timedelta(days=365)) == 0


def test_the_best_open_tier_wins_whatever_their_order() -> None:
    assert refund_percent(list(reversed(POLICY)), STARTS, STARTS - timedelta(days=20)) == 100


def test_amounts_round_down_to_the_minor_unit() -> None:
    assert refund_amount(33_750, 50) == 16_875
    assert refund_amount(33_751, 50) == 16_875
    assert refund_amount(999, 33) == 329
    assert refund_amount(33_750, 0) == 0
