"""The platform's fee on a payment into an organisation's own Stripe account."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.platform_fee import BASIS_POINTS, platform_fee

amounts = st.integers(min_value=0, max_value=10**9)
rates = st.integers(min_value=0, max_value=BASIS_POINTS)
fixed = st.integers(min_value=0, max_value=10**6)


@pytest.mark.parametrize(
    ("amount", "basis_points", "fixed_fee", "fee"),
    [
        (2500, 250, 20, 83),  # 62.5 rounds half up to 63
        (7500, 250, 20, 208),  # 187.5 -> 188
        (101, 50, 0, 1),  # 0.505 -> 1
        (99, 50, 0, 0),  # 0.495 -> 0
        (1000, 0, 0, 0),
        (1000, BASIS_POINTS, 0, 1000),  # all of it
        (500, 0, 800, 500),  # a fixed fee above the amount is cut to the amount
        (0, 250, 20, 0),  # nothing paid, nothing taken
    ],
)
def test_the_fee_rounds_half_up_and_stays_within_the_amount(
    amount: int, basis_points: int, fixed_fee: int, fee: int
) -> None:
    assert platform_fee(amount, basis_points, fixed_fee) == fee


@given(amounts, rates, fixed)
def test_the_fee_is_never_negative_nor_above_the_amount(
    amount: int, basis_points: int, fixed_fee: int
) -> None:
    assert 0 <= platform_fee(amount, basis_points, fixed_fee) <= amount


@given(amounts, rates, fixed)
def test_the_fee_is_the_rounded_share_plus_the_fixed_part_when_that_fits(
    amount: int, basis_points: int, fixed_fee: int
) -> None:
    exact = amount * basis_points / BASIS_POINTS
    fee = platform_fee(amount, basis_points, fixed_fee)
    assert abs(fee - min(exact + fixed_fee, amount)) <= 0.5


@given(amounts, rates, rates, fixed)
def test_a_higher_rate_never_takes_less(
    amount: int, rate: int, other_rate: int, fixed_fee: int
) -> None:
    low, high = sorted((rate, other_rate))
    assert platform_fee(amount, low, fixed_fee) <= platform_fee(amount, high, fixed_fee)
