"""The constrained types every request body and query shares: storable, printable text,
aware times in UTC, known zones, amounts and currencies."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

# PostgreSQL refuses NUL in text and cannot store a lone surrogate: such a value would make
# every retry of the same write fail, so it is refused here, at the edge, for every string.
STORABLE = r"^[^\x00\ud800-\udfff]*$"


# Text that reaches an email header, a PDF, a CSV or a webhook is one line: no C0 or C1 control
# character (CR and LF would break a header) and no Unicode line or paragraph separator.
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]*$"
# Free text that may hold lines (an attendee's needs): tab, LF and CR are its only controls.
LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*$"


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _printable(pattern: str) -> Callable[[str], str]:
    """A validator refusing the control characters that `pattern` (one of the above) excludes."""
    allowed = re.compile(pattern)

    def check(value: str) -> str:
        if not allowed.fullmatch(value):
            bad = next(c for c in value if not allowed.fullmatch(c))
            raise ValueError(f"must not contain the control character U+{ord(bad):04X}")
        return value

    return check


def _utc(value: datetime) -> datetime:
    """One clock for the database: times at the edges of the calendar must still convert."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


@cache
def _known_zones() -> frozenset[str]:
    # The system's zone files include links that name no place (the machine's own zone).
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def known_zone(value: str) -> str:
    """An IANA time zone name that zoneinfo knows, e.g. "Europe/London"."""
    if value not in _known_zones():
        raise ValueError(f"unknown IANA time zone {value!r}, e.g. Europe/London")
    return value


# The date that starts an ISO 8601 date-time (pydantic would also read "942" as 942 seconds
# after 1970, which the document's `date-time` does not allow).
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _written_out(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time with its zone, e.g. 2026-06-01T09:00:00Z")
    return value


# Every string a caller sends is one of these (tests/api/test_openapi.py checks it).
String = Annotated[str, AfterValidator(storable), Field(json_schema_extra={"pattern": STORABLE})]
Line = Annotated[
    String, AfterValidator(_printable(ONE_LINE)), Field(json_schema_extra={"pattern": ONE_LINE})
]
Lines = Annotated[
    String, AfterValidator(_printable(LINES)), Field(json_schema_extra={"pattern": LINES})
]
Text = Annotated[Line, Field(min_length=1, max_length=200)]
Reason = Annotated[Line, Field(max_length=500)]
SeatLabel = Annotated[Line, Field(min_length=1, max_length=32)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
# A time in a query string: written out with its zone, as the document's `date-time` says.
QueryMoment = Annotated[UtcDatetime, BeforeValidator(_written_out)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])]
Amount = Annotated[int, Field(ge=0, le=100_000_000)]
TimeZone = Annotated[
    String,
    Field(max_length=64, examples=["Europe/London"], description="IANA time zone"),
    AfterValidator(known_zone),
]


def absent(description: str) -> Any:
    """The default of a field that may be left out (the caller's None: "not given", e.g. a
    PATCH leaving it as it is) but, when given, may not be null."""
    return Field(default=None, description=description)
