"""Render one session as an RFC 5545 calendar file (.ics) for an email attachment: the event in
the session's own time zone (TZID, with its VTIMEZONE), or its cancellation."""

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

PRODID = "-//Booking engine//Receipts and notifications//EN"
# TEXT values may carry no control characters but tab and newline (which icalendar escapes).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class CalendarMethod(StrEnum):
    """PUBLISH adds the event to the customer's calendar; CANCEL (a later SEQUENCE, the same
    UID) makes calendar programs drop it."""

    PUBLISH = "PUBLISH"
    CANCEL = "CANCEL"


def render_ics(
    uid: str,
    summary: str,
    location: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    organizer_email: str,
    created_at: datetime,
    time_zone: str = "UTC",
    method: CalendarMethod = CalendarMethod.PUBLISH,
    sequence: int | None = None,
) -> bytes:
    """A VCALENDAR with one VEVENT; the same arguments always give the same bytes.

    `created_at` is the DTSTAMP: it comes from the caller, not the clock, so a resent file
    is byte-identical. `sequence` is the event's revision (each change of the session's time or
    place is one more); by default 0, or 1 for a cancellation.
    """
    zone = ZoneInfo(time_zone)
    start, end = _aware(starts_at).astimezone(zone), _aware(ends_at).astimezone(zone)
    if end <= start:
        raise ValueError("the event must end after it starts")
    if not re.fullmatch(r"[^@\s:;,<>\"]+@[^@\s:;,<>\"]+", organizer_email):
        raise ValueError(f"not a plain email address: {organizer_email!r}")
    cancelled = method == CalendarMethod.CANCEL
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", _aware(created_at).astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", _CONTROL.sub("", summary))
    event.add("location", _CONTROL.sub("", location))
    event.add("description", _CONTROL.sub("", description))
    event.add("organizer", vCalAddress(f"mailto:{organizer_email}"))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("sequence", sequence if sequence is not None else int(cancelled))
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method.value)
    calendar.add_component(event)
    # The zone's rules around the event only, not every change since 1970.
    calendar.add_missing_timezones(
        first_date=start.date() - timedelta(days=366), last_date=end.date() + timedelta(days=366)
    )
    return calendar.to_ical()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: times must be timezone-aware")
    return moment
