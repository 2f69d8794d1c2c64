"""A session's bookings as CSV for its organiser: one line per booking, written a page at a time.

The session's questions follow the fixed columns, one `answer:<key>` column each: a booking's
answer, or each attendee's as `#1 ...; #2 ...` (places numbered from 1). Answers to questions
the session no longer asks are in `other_answers`, as `label: answer`.

Quoting is the csv module's (any comma, quote or line break in a name survives a round trip).
A text cell that a spreadsheet would read as a formula (starting with = + - @, a tab or a
carriage return) gets a leading apostrophe, OWASP's advice against CSV injection: a customer
named `=HYPERLINK(...)` is shown as text, never run.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from core.questions import Question
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
    "consents",
    "other_answers",
)
# Excel reads a file as UTF-8 only when it starts with the byte order mark.
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def header(questions: Sequence[Question] = ()) -> str:
    return csv_lines([COLUMNS + tuple(f"answer:{q.key}" for q in questions)])


def rows(bookings: Iterable[Booking], questions: Sequence[Question] = ()) -> str:
    """CSV lines (CRLF-terminated) for these bookings, amounts in minor units; what remains is
    what was paid less what was refunded (the API's `amount_remaining`)."""
    asked = {q.key for q in questions}
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
            "; ".join(f"{c['consent']} v{c['version']} {c['accepted_at']}" for c in b.consents),
            "; ".join(
                f"{a['label']}: {_shown(a)}" for a in b.answers if a["question"] not in asked
            ),
            *(_answer_cell(b.answers, q.key) for q in questions),
        ]
        for b in bookings
    )


def _answer_cell(answers: list[dict[str, Any]], key: str) -> str:
    mine = [a for a in answers if a["question"] == key]
    return "; ".join(
        _shown(a) if a["attendee"] is None else f"#{a['attendee'] + 1} {_shown(a)}"
        for a in sorted(mine, key=lambda a: a["attendee"] or 0)
    )


def _shown(answer: dict[str, Any]) -> str:
    value = answer["value"]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " | ".join(value)
    return str(value)


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
