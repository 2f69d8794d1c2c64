"""Money formatting and the VAT split, including their rounding edges."""

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from math import floor

import pytest

from documents.receipt_data import format_money, format_rate, format_utc, vat_breakdown


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (7500, "GBP", "£75.00"),
        (-7500, "GBP", "-£75.00"),
        (7500, "gbp", "£75.00"),
        (1050, "EUR", "€10.50"),
        (199, "USD", "$1.99"),
        (7500, "CHF", "75.00 CHF"),
        (-7500, "CHF", "-75.00 CHF"),
        (0, "GBP", "£0.00"),
        (5, "GBP", "£0.05"),
        (-5, "GBP", "-£0.05"),
        (123_456_789, "USD", "$1,234,567.89"),
        (7500, "JPY", "¥7,500"),
        (-500, "JPY", "-¥500"),
        (7500, "KRW", "7,500 KRW"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


@pytest.mark.parametrize("currency", ["", "GB", "POUND", "G8P", "ÉUR"])
def test_format_money_refuses_what_is_not_a_currency_code(currency: str) -> None:
    with pytest.raises(ValueError):
        format_money(100, currency)


def test_vat_inclusive_group_booking() -> None:
    assert vat_breakdown(33_750, 2000, inclusive=True) == (28_125, 5_625)
    assert vat_breakdown(7_500, 2000, inclusive=True) == (6_250, 1_250)


def test_vat_exclusive_adds_on_top_of_the_net_amount() -> None:
    assert vat_breakdown(28_125, 2000, inclusive=False) == (28_125, 5_625)
    assert vat_breakdown(999, 2000, inclusive=False) == (999, 200)  # 199.8


@pytest.mark.parametrize(
    ("total", "rate", "inclusive", "vat"),
    [
        (3, 2000, True, 1),  # 0.5 exactly: half rounds up
        (2, 2000, True, 0),  # 0.333
        (100, 2000, True, 17),  # 16.667
        (9, 2000, True, 2),  # 1.5 exactly
        (15, 2000, True, 3),  # 2.5 exactly: up, not to even
        (1, 5000, False, 1),  # 0.5 exactly
        (3, 2000, False, 1),  # 0.6
        (2, 2000, False, 0),  # 0.4
        (1234, 550, True, 64),  # 64.32
        (0, 2000, True, 0),
    ],
)
def test_vat_rounds_half_up(total: int, rate: int, inclusive: bool, vat: int) -> None:
    assert vat_breakdown(total, rate, inclusive)[1] == vat


def test_vat_on_a_credit_note_mirrors_the_receipt() -> None:
    for total in (3, 15, 100, 33_750, 7_501):
        net, vat = vat_breakdown(total, 2000, inclusive=True)
        assert vat_breakdown(-total, 2000, inclusive=True) == (-net, -vat)


def test_vat_inclusive_matches_exact_arithmetic_and_always_adds_up() -> None:
    for rate in (0, 500, 550, 1250, 2000, 2100, 2500):
        for total in range(0, 3000):
            net, vat = vat_breakdown(total, rate, inclusive=True)
            assert vat == floor(Fraction(total * rate, 10_000 + rate) + Fraction(1, 2))
            assert net + vat == total


def test_vat_at_zero_rate_and_refusal_of_negative_rates() -> None:
    assert vat_breakdown(7_500, 0, inclusive=True) == (7_500, 0)
    with pytest.raises(ValueError):
        vat_breakdown(7_500, -1, inclusive=True)


@pytest.mark.parametrize(
    ("rate", "text"), [(2000, "20%"), (550, "5.5%"), (1250, "12.5%"), (0, "0%"), (2025, "20.25%")]
)
def test_format_rate(rate: int, text: str) -> None:
    assert format_rate(rate) == text


def test_format_utc_converts_to_utc_and_refuses_naive_times() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_utc(datetime(2026, 4, 14, 20, 0, tzinfo=paris)) == "Tue 14 Apr 2026, 18:00 UTC"
    assert format_utc(datetime(2026, 1, 1, 0, 5, tzinfo=UTC)) == "Thu 1 Jan 2026, 00:05 UTC"
    with pytest.raises(ValueError):
        format_utc(datetime(2026, 4, 14, 18, 0))
