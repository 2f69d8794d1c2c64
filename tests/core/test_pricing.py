"""Group prices in minor units: the discount on the whole subtotal, rounded half up."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.pricing import GroupDiscount, Quote, kept, quote, split

TEN_PERCENT_FROM_FIVE = GroupDiscount(min_quantity=5, basis_points=1000)


def test_the_discount_is_taken_on_the_whole_subtotal_not_per_place() -> None:
    # Per place, 10 % of 7 501 is 750.1 -> 750, times 5 = 3 750; on the subtotal it is 3 751.
    assert quote(7_501, 5, TEN_PERCENT_FROM_FIVE) == Quote(7_501, 5, 37_505, 3_751, 33_754)


@pytest.mark.parametrize(
    ("unit_amount", "quantity", "basis_points", "discount"),
    [
        (5, 1, 1000, 1),  # 0.5 rounds up
        (15, 1, 1000, 2),  # 1.5 rounds up, not to even
        (25, 1, 1000, 3),  # 2.5 rounds up, not to even
        (14, 1, 1000, 1),  # 1.4 rounds down
        (1, 1, 4999, 0),  # 0.4999 rounds down
        (1, 1, 5000, 1),  # exactly half rounds up
        (7_500, 5, 1000, 3_750),  # exact
        (3_333, 3, 3333, 3_333),  # 9 999 x 33.33 % = 3 332.67 -> 3 333
    ],
)
def test_the_discount_rounds_half_up_to_the_minor_unit(
    unit_amount: int, quantity: int, basis_points: int, discount: int
) -> None:
    priced = quote(unit_amount, quantity, GroupDiscount(min_quantity=1, basis_points=basis_points))
    assert priced.discount == discount


@pytest.mark.parametrize("unit_amount", [1, 99, 7_499, 7_501, 12_345])
@pytest.mark.parametrize("quantity", [1, 4, 5, 7, 50])
def test_the_total_is_always_the_subtotal_minus_the_discount(
    unit_amount: int, quantity: int
) -> None:
    priced = quote(unit_amount, quantity, GroupDiscount(min_quantity=5, basis_points=1250))
    assert priced.subtotal == unit_amount * quantity
    assert priced.total == priced.subtotal - priced.discount
    assert 0 <= priced.discount <= priced.subtotal


def test_the_discount_starts_at_min_quantity() -> None:
    below = quote(7_500, 4, TEN_PERCENT_FROM_FIVE)
    at = quote(7_500, 5, TEN_PERCENT_FROM_FIVE)
    assert (below.subtotal, below.discount, below.total) == (30_000, 0, 30_000)
    assert (at.subtotal, at.discount, at.total) == (37_500, 3_750, 33_750)


@pytest.mark.parametrize(
    "discount", [None, GroupDiscount(min_quantity=1, basis_points=0)], ids=["none", "zero"]
)
def test_no_discount_charges_the_full_subtotal(discount: GroupDiscount | None) -> None:
    assert quote(7_500, 6, discount) == Quote(7_500, 6, 45_000, 0, 45_000)


def test_a_full_discount_makes_it_free() -> None:
    assert quote(7_500, 2, GroupDiscount(1, 10_000)).total == 0


def test_a_free_session_costs_nothing_at_any_quantity() -> None:
    assert quote(0, 1, None) == Quote(0, 1, 0, 0, 0)
    assert quote(0, 10, TEN_PERCENT_FROM_FIVE) == Quote(0, 10, 0, 0, 0)


@pytest.mark.parametrize(("unit_amount", "quantity"), [(-1, 1), (7_500, 0), (7_500, -2)])
def test_negative_prices_and_empty_bookings_are_refused(unit_amount: int, quantity: int) -> None:
    with pytest.raises(ValueError):
        quote(unit_amount, quantity, None)


def test_a_paid_total_splits_by_list_price_remainders_to_the_earliest() -> None:
    # 26 251 over 4 places is 6 562.75 each: the 3 units left go to the first three.
    assert split(26_251, [7_500] * 4) == [6_563, 6_563, 6_563, 6_562]
    assert split(100, [1, 3]) == [25, 75]
    assert split(10, [1, 1, 1]) == [4, 3, 3]
    assert split(0, [7_500, 7_500]) == [0, 0]
    assert split(5, [0, 0]) == [3, 2]


@given(st.integers(0, 10_000_000), st.lists(st.integers(0, 100_000), min_size=1, max_size=50))
def test_shares_add_up_to_the_total_and_follow_the_weights(total: int, weights: list[int]) -> None:
    shares = split(total, weights)
    assert sum(shares) == total
    assert all(share >= 0 for share in shares)
    if any(weights):
        whole = sum(weights)
        assert all(
            abs(share * whole - total * w) < whole for share, w in zip(shares, weights, strict=True)
        )


def test_places_given_back_leave_the_rest_at_what_was_paid_for_them() -> None:
    """5 at 30 % off for 5 or more, paid 26 250; one given back: the 4 kept cost 21 000, not
    the 30 000 a new quote of 4 (no discount) would say."""
    places = ["A1", "A2", "A3", "A4", "A5"]
    assert kept(26_250, 7_500, places, places[:4]) == Quote(7_500, 4, 30_000, 9_000, 21_000)


def test_a_group_made_free_keeps_its_places_for_nothing() -> None:
    assert kept(0, 7_500, ["A1", "A2"], ["A1"]) == Quote(7_500, 1, 7_500, 7_500, 0)


@given(
    st.integers(1, 100_000),
    st.integers(2, 50),
    st.integers(0, 10_000),
    st.data(),
)
def test_what_is_kept_is_never_dearer_than_paid_nor_its_refund_negative(
    unit_amount: int, quantity: int, basis_points: int, data: st.DataObject
) -> None:
    places = [f"P{i}" for i in range(quantity)]
    paid = quote(unit_amount, quantity, GroupDiscount(2, basis_points)).total
    keep = data.draw(st.lists(st.sampled_from(places), min_size=1, unique=True))
    price = kept(paid, unit_amount, places, keep)
    assert 0 <= price.total <= paid
    assert price.total <= price.subtotal
    assert price.discount >= 0
    assert kept(paid, unit_amount, places, places).total == paid
