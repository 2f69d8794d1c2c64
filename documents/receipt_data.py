"""What a receipt or credit note says, and the money, VAT and date rules used to print it."""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_date
from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision

from core.enums import DocumentKind

DEFAULT_LOCALE = "en_GB"
# Stripe counts ISK in hundredths (amounts end in 00), although ISO 4217 gives it no minor unit;
# every other currency's minor unit is the one CLDR (babel) knows.
_STRIPE_HUNDREDTHS = frozenset({"ISK"})
# The day, date and time of day, then the zone's name where it happens: the locale supplies
# the names ("Thu", "Dec", "GMT" or "BST"); the order stays the same on every document.
_MOMENT = "EEE d MMM y, HH:mm zzz"
# In a document's stored seller (receipts.seller): the VAT rate it charged, None for none.
VAT_RATE_KEY = "vat_rate_basis_points"


@dataclass(frozen=True)
class Logo:
    """An organisation's logo as stored: PNG or SVG bytes (checked when uploaded)."""

    data: bytes = field(repr=False)
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Seller:
    """Who sells, as a document prints it: the organisation's legal name and address, its VAT
    number (None on a document that charges no VAT: it makes no VAT number claim), its logo
    and the footer text at the foot of each page."""

    name: str
    address_lines: list[str]
    vat_number: str | None
    country: str | None = None
    logo: Logo | None = None
    footer: str | None = None

    def snapshot(self) -> dict[str, Any]:
        """What is stored with an issued document (receipts.seller): every field as printed,
        the logo by its sha256 and content type rather than its bytes."""
        logo = self.logo
        return {
            "name": self.name,
            "address_lines": list(self.address_lines),
            "country": self.country,
            "vat_number": self.vat_number,
            "logo": logo and {"sha256": logo.sha256, "content_type": logo.content_type},
            "footer": self.footer,
        }


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_amount: int
    amount: int


@dataclass(frozen=True)
class ReceiptData:
    """One receipt or credit note; amounts in minor units, negative on credit notes.

    `total` is the amount charged (or refunded). `discount_amount` is subtracted from the
    lines, so it is positive on a receipt and negative on a credit note. When prices exclude
    VAT, the lines are net and `total` is their sum minus the discount plus the VAT.
    `vat_rate_basis_points` None: no VAT is charged, and the document prints no VAT line and
    no VAT number.
    """

    kind: DocumentKind
    number: str
    refers_to: str | None
    booking_reference: str
    issued_at: datetime
    paid_at: datetime
    seller: Seller
    customer_name: str
    customer_email: str
    session_title: str
    session_location: str
    session_starts_at: datetime
    session_ends_at: datetime
    attendees: list[str]
    lines: list[ReceiptLine]
    discount_description: str | None
    discount_amount: int
    total: int
    currency: str
    vat_rate_basis_points: int | None
    prices_include_vat: bool
    card_brand: str | None
    card_last4: str | None
    # The IANA zone where the session happens: its times print as the clocks there read.
    session_time_zone: str = "UTC"
    locale: str = DEFAULT_LOCALE
    # The signed code of the booking's first ticket (core/tickets.py): the receipt's QR code.
    ticket_code: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == DocumentKind.CREDIT_NOTE) != (self.refers_to is not None):
            raise ValueError("refers_to is required on credit notes and only there")
        currency_exponent(self.currency)
        if self.vat_rate_basis_points is None and self.seller.vat_number:
            raise ValueError("a document that charges no VAT makes no VAT number claim")
        sign = -1 if self.kind == DocumentKind.CREDIT_NOTE else 1
        if any(line.amount * sign < 0 for line in self.lines) or self.total * sign < 0:
            raise ValueError("credit notes carry negative amounts, receipts positive ones")
        for line in self.lines:
            if line.quantity * line.unit_amount != line.amount:
                raise ValueError(f"line {line.description!r}: quantity x unit != amount")
        goods = sum(line.amount for line in self.lines) - self.discount_amount
        if not self.prices_include_vat:
            goods += self._vat_of(goods)[1]
        if goods != self.total:
            raise ValueError(f"lines add up to {goods}, not to the total {self.total}")
        for moment in (self.issued_at, self.paid_at, self.session_starts_at, self.session_ends_at):
            _require_aware(moment)

    def seller_snapshot(self) -> dict[str, Any]:
        """The seller as this document prints it, with the VAT rate it charges: stored with
        the document (receipts.seller), never changed after."""
        return {**self.seller.snapshot(), VAT_RATE_KEY: self.vat_rate_basis_points}

    @property
    def net_and_vat(self) -> tuple[int, int]:
        goods = self.total
        if not self.prices_include_vat:
            goods = sum(line.amount for line in self.lines) - self.discount_amount
        return self._vat_of(goods)

    def _vat_of(self, goods: int) -> tuple[int, int]:
        """(net, vat) of `goods`; without VAT the whole amount is net."""
        if self.vat_rate_basis_points is None:
            return goods, 0
        return vat_breakdown(goods, self.vat_rate_basis_points, self.prices_include_vat)


def vat_breakdown(total: int, rate_bp: int, inclusive: bool) -> tuple[int, int]:
    """Split an amount into (net, vat) for a VAT rate in basis points (2000 = 20 %).

    VAT-inclusive: `total` is gross; vat = total * rate / (10000 + rate) rounded half up to
    the minor unit, and net = total - vat, so net + vat always equals what was paid.
    VAT-exclusive: `total` is net; vat = total * rate / 10000 rounded half up, net = total.
    Negative amounts (credit notes) round half away from zero, so a credit note for a whole
    receipt mirrors its VAT exactly.
    """
    if rate_bp < 0:
        raise ValueError("VAT rate cannot be negative")
    denominator = 10_000 + rate_bp if inclusive else 10_000
    sign = -1 if total < 0 else 1
    vat = sign * ((2 * abs(total) * rate_bp + denominator) // (2 * denominator))
    return (total - vat if inclusive else total), vat


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency`'s minor unit, as Stripe counts it."""
    code = currency.upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return 2 if code in _STRIPE_HUNDREDTHS else get_currency_precision(code)


def format_money(amount_minor: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """Minor units for people, in the locale: "£75.00", "-£75.00", "JP¥7,500" (en_GB)."""
    code = currency.upper()
    amount = Decimal(amount_minor).scaleb(-currency_exponent(code))
    return format_currency(amount, code, locale=locale)


def format_rate(rate_bp: int) -> str:
    """A VAT rate in basis points for people: 2000 -> "20%", 550 -> "5.5%"."""
    whole, fraction = divmod(rate_bp, 100)
    return f"{whole}%" if not fraction else f"{whole}.{fraction:02d}".rstrip("0") + "%"


def format_moment(moment: datetime, time_zone: str, locale: str = DEFAULT_LOCALE) -> str:
    """A moment as the clocks read in `time_zone`, with the zone's name:
    "Thu 3 Dec 2026, 09:00 GMT", "Fri 3 Jul 2026, 10:00 BST" (Europe/London, en_GB)."""
    return _format(moment, ZoneInfo(time_zone), locale)


def format_utc(moment: datetime) -> str:
    """A moment in UTC, for operators: "Tue 14 Apr 2026, 18:00 UTC"."""
    return _format(moment, UTC, DEFAULT_LOCALE)


def _format(moment: datetime, zone: tzinfo, locale: str) -> str:
    return format_datetime(_require_aware(moment), _MOMENT, tzinfo=zone, locale=locale)


def format_date(moment: datetime, time_zone: str = "UTC", locale: str = DEFAULT_LOCALE) -> str:
    """The calendar date in `time_zone` for people: "14 Apr 2026"."""
    local = _require_aware(moment).astimezone(ZoneInfo(time_zone))
    return babel_date(local, "d MMM y", locale=locale)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: times must be timezone-aware")
    return moment


def _read_locale_data() -> None:
    """The booking workflow formats what operators see (workflows/visibility.py) with
    format_utc and format_money in the default locale, and its sandbox forbids reading files:
    babel reads that data here, at import, outside the sandbox, and keeps it for the life of
    the process (tests/workflows/test_visibility.py fails without this)."""
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    format_utc(moment)
    format_money(0, "GBP")


_read_locale_data()
