"""Prices Stripe would refuse are refused when the session is created: below the currency's
minimum charge, or a group discount that brings a group below it. 0 is a free session."""

import httpx
import pytest

from core.minimum_charge import MINIMUM_CHARGE, below_minimum, cheapest_group_total
from core.pricing import GroupDiscount, quote
from core.settings import Settings
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import course
from tests.ops.cli_helpers import booking_ops, one_line_error


@pytest.mark.parametrize(
    ("currency", "price"), [("GBP", 29), ("USD", 49), ("EUR", 1), ("JPY", 49), ("HUF", 17_499)]
)
async def test_a_price_below_the_minimum_charge_is_422_naming_the_field(
    api: httpx.AsyncClient, currency: str, price: int
) -> None:
    response = await api.post(
        "/v1/sessions", json=course(price_amount=price, currency=currency), headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["body.price_amount"]
    assert f"at least {MINIMUM_CHARGE[currency]} {currency}" in problem["detail"]


@pytest.mark.parametrize(("currency", "price"), [("GBP", 0), ("GBP", 30), ("USD", 50), ("XYZ", 1)])
async def test_free_prices_at_the_minimum_and_unlisted_currencies_are_accepted(
    api: httpx.AsyncClient, currency: str, price: int
) -> None:
    response = await api.post(
        "/v1/sessions", json=course(price_amount=price, currency=currency), headers=ADMIN
    )
    assert response.status_code == 201, response.text
    assert response.json()["price_amount"] == price


async def test_a_discount_that_takes_a_group_below_the_minimum_is_422(
    api: httpx.AsyncClient,
) -> None:
    """4 places at 30p with 90 % off would be 12p: Stripe would refuse it at booking time."""
    body = course(price_amount=30, group_discount={"min_quantity": 4, "percent": 90})
    response = await api.post("/v1/sessions", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.group_discount"]
    # The whole group free is a free booking, not a refused charge.
    body["group_discount"]["percent"] = 100
    assert (await api.post("/v1/sessions", json=body, headers=ADMIN)).status_code == 201


def test_the_smallest_discounted_group_is_the_cheapest() -> None:
    """Why checking `min_quantity` places is enough: totals only grow with the places."""
    for unit in (30, 31, 99, 1000):
        for percent in (10, 50, 90, 99):
            discount = GroupDiscount(3, percent * 100)
            cheapest = cheapest_group_total(unit, discount)
            assert cheapest is not None
            assert all(quote(unit, n, discount).total >= cheapest for n in range(3, 40))
    assert cheapest_group_total(0, GroupDiscount(3, 5000)) is None
    assert not below_minimum(0, "GBP") and below_minimum(29, "gbp")


async def test_the_cli_refuses_a_price_below_the_minimum_in_one_line(settings: Settings) -> None:
    args = ["sessions", "create", "--title", "T", "--location", "L", "--capacity", "2"]
    times = ["--starts-at", "2031-05-01T09:00Z", "--ends-at", "2031-05-01T17:00Z"]
    result = await booking_ops(settings, *args, *times, "--price-amount", "10")
    one_line_error(result, 2, "price_amount must be 0 (free) or at least 30 GBP")
