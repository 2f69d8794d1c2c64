"""A session's bookings as CSV for its organiser: one line per booking, written a page at a time.

Quoting is the csv module's (any comma, quote or line break in a name survives a round trip).
A text cell that a spreadsheet would read as a formula (starting with = + - @, a tab or a
carriage return) gets a leading apostrophe, OWASP's advice against CSV injection: a customer
named `=HYPERLINK(...)` is shown as text, never run.
"""

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime

from models.tables import Booking

COLUMNS = (
    "booking_id",
    "reference",
    "status",
    "customer_name",
    "customer_email",
    "attendees",
    "quantity",
    "seats",
    "amount_subtotal",
    "discount",
    "amount_total",
    "amount_paid",
    "amount_refunded",
    "amount_remaining",
    "currency",
    "created_at",
    "confirmed_at",
)
# Excel reads a file as UTF-8 only when it starts with the byte order mark.
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def header() -> str:
    return csv_lines([COLUMNS])


def rows(bookings: Iterable[Booking]) -> str:
    """CSV lines (CRLF-terminated) for these bookings, amounts in minor units; what remains is
    what was paid less what was refunded (the API's `amount_remaining`)."""
    return csv_lines(
        [
            str(b.id),
            b.reference or "",
            b.status,
            b.customer_name,
            b.customer_email,
            "; ".join(a["name"] for a in b.attendees),
            b.quantity,
            " ".join(b.seat_labels),
            b.amount_subtotal,
            b.discount,
            b.amount_total,
            b.paid,
            b.amount_refunded,
            b.remaining,
            b.currency,
            iso_utc(b.created_at),
            iso_utc(b.confirmed_at),
        ]
        for b in bookings
    )


def csv_lines(records: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([_safe(cell) for cell in record] for record in records)
    return out.getvalue()


def _safe(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 with its offset, in UTC."""
    return moment.astimezone(UTC).isoformat() if moment else ""
