"""Money formatting and the VAT split, including their rounding edges."""

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from math import floor

import pytest

from documents.receipt_data import (
    format_date,
    format_moment,
    format_money,
    format_rate,
    format_utc,
    vat_breakdown,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (7500, "GBP", "£75.00"),
        (-7500, "GBP", "-£75.00"),
        (7500, "gbp", "£75.00"),
        (1050, "EUR", "€10.50"),
        (199, "USD", "US$1.99"),
        (7500, "CHF", "CHF75.00"),
        (-7500, "CHF", "-CHF75.00"),
        (0, "GBP", "£0.00"),
        (5, "GBP", "£0.05"),
        (-5, "GBP", "-£0.05"),
        (123_456_789, "USD", "US$1,234,567.89"),
        # No minor unit: 7500 is ¥7,500, never ¥75.00.
        (7500, "JPY", "JP¥7,500"),
        (-500, "JPY", "-JP¥500"),
        (7500, "KRW", "₩7,500"),
        (1234, "KWD", "KWD1.234"),
        # Stripe counts ISK in hundredths.
        (150_000, "ISK", "ISK1,500"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    # CLDR puts a no-break space between a code and the number.
    assert format_money(amount, currency).replace("\xa0", " ") == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en_US", "¥7,500"), ("de_DE", "7.500 ¥"), ("ja_JP", "￥7,500")],
)
def test_format_money_follows_the_locale(locale: str, expected: str) -> None:
    assert format_money(7500, "JPY", locale).replace("\xa0", " ") == expected


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


@pytest.mark.parametrize(
    ("moment", "zone", "locale", "expected"),
    [
        # Winter and summer in London: the zone's name says which clock.
        (
            datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Thu 3 Dec 2026, 09:00 GMT",
        ),
        (
            datetime(2026, 7, 3, 9, 0, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Fri 3 Jul 2026, 10:00 BST",
        ),
        (
            datetime(2026, 12, 3, 14, 0, tzinfo=UTC),
            "America/New_York",
            "en_US",
            "Thu 3 Dec 2026, 09:00 EST",
        ),
        (
            datetime(2026, 7, 3, 14, 0, tzinfo=UTC),
            "America/New_York",
            "en_US",
            "Fri 3 Jul 2026, 10:00 EDT",
        ),
        # en_GB has no short name for New York's zone: CLDR's long one, never a wrong one.
        (
            datetime(2026, 12, 3, 14, 0, tzinfo=UTC),
            "America/New_York",
            "en_GB",
            "Thu 3 Dec 2026, 09:00 Eastern Standard Time",
        ),
        (
            datetime(2026, 12, 3, 0, 30, tzinfo=UTC),
            "Asia/Tokyo",
            "en_GB",
            "Thu 3 Dec 2026, 09:30 +0900",
        ),
        # Spring forward in London (01:00 GMT becomes 02:00 BST): 01:30 never happens there.
        (
            datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Sun 29 Mar 2026, 00:59 GMT",
        ),
        (
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Sun 29 Mar 2026, 02:00 BST",
        ),
        # Fall back: 01:30 happens twice, and the zone's name tells them apart.
        (
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Sun 25 Oct 2026, 01:30 BST",
        ),
        (
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            "Europe/London",
            "en_GB",
            "Sun 25 Oct 2026, 01:30 GMT",
        ),
        (
            datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
            "Europe/Paris",
            "fr_FR",
            "jeu. 3 déc. 2026, 10:00 +0100",
        ),
    ],
)
def test_format_moment_shows_local_time_with_the_zone(
    moment: datetime, zone: str, locale: str, expected: str
) -> None:
    assert format_moment(moment, zone, locale) == expected


def test_format_date_is_the_date_where_the_session_happens() -> None:
    late = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    assert format_date(late, "UTC") == "3 Dec 2026"
    assert format_date(late, "Asia/Tokyo") == "4 Dec 2026"
    assert format_date(late, "America/New_York") == "3 Dec 2026"
