"""Render one session as an RFC 5545 calendar file (.ics) for an email attachment."""

import re
from datetime import UTC, datetime

PRODID = "-//Booking engine//Receipts and notifications//EN"
_LINE_OCTETS = 75
# TEXT values may not carry control characters other than tab; newlines are escaped first.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def render_ics(
    uid: str,
    summary: str,
    location: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    organizer_email: str,
    created_at: datetime,
) -> bytes:
    """A VCALENDAR with one VEVENT; the same arguments always give the same bytes."""
    start, end = _utc(starts_at), _utc(ends_at)
    if end <= start:
        raise ValueError("the event must end after it starts")
    if not re.fullmatch(r"[^@\s:;,<>\"]+@[^@\s:;,<>\"]+", organizer_email):
        raise ValueError(f"not a plain email address: {organizer_email!r}")
    properties = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{_text(uid)}",
        # DTSTAMP comes from the caller, not the clock, so a resent file is byte-identical.
        f"DTSTAMP:{_utc(created_at)}",
        f"DTSTART:{start}",
        f"DTEND:{end}",
        f"SUMMARY:{_text(summary)}",
        f"LOCATION:{_text(location)}",
        f"DESCRIPTION:{_text(description)}",
        f"ORGANIZER:mailto:{organizer_email}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "SEQUENCE:0",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(_fold(line) for line in properties)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: times must be timezone-aware")
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _text(value: str) -> str:
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    return _CONTROL.sub("", value)


def _fold(line: str) -> bytes:
    """One content line, CRLF-terminated, folded so no physical line exceeds 75 octets.

    Folds fall between characters, never inside a UTF-8 sequence; a continuation line
    starts with one space, which counts towards its 75 octets.
    """
    pieces: list[bytes] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > _LINE_OCTETS:
            pieces.append(current)
            current = b" "
        current += encoded
    pieces.append(current)
    return b"\r\n".join(pieces) + b"\r\n"
