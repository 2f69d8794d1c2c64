"""The .ics attachment: valid RFC 5545 that calendar programs read back unchanged."""

from datetime import UTC, datetime, timedelta, timezone

import icalendar
import pytest

from documents.calendar_file import CalendarMethod, render_ics

STARTS = datetime(2026, 4, 14, 18, 0, tzinfo=UTC)
ENDS = datetime(2026, 4, 14, 21, 30, tzinfo=UTC)
SUMMARY = "Sourdough, part 1; hands-on \\ tasting"
LOCATION = "Kitchen 2, 12 Quay Street; Bristol"
DESCRIPTION = "Booking RFT-2026-0042\nBring an apron, please; we provide the rest. " + (
    "Zoë, Łukasz and 山田 are coming. " * 6
)


def _ics(**overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "uid": "booking-7f3c@bookings.example.com",
        "summary": SUMMARY,
        "location": LOCATION,
        "description": DESCRIPTION,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "organizer_email": "hello@riverside.example",
        "created_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    }
    arguments.update(overrides)
    return render_ics(**arguments)  # type: ignore[arg-type]


def _event(ics: bytes) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(ics)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    assert calendar["PRODID"]
    (event,) = calendar.events
    return event


def test_times_round_trip_in_utc() -> None:
    event = _event(_ics())
    assert event.start == STARTS
    assert event.end == ENDS
    stamp = event.DTSTAMP
    assert stamp == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert b"DTSTART:20260414T180000Z\r\n" in _ics()


def test_other_time_zones_are_written_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    ics = _ics(starts_at=STARTS.astimezone(plus_two), ends_at=ENDS.astimezone(plus_two))
    assert b"DTSTART:20260414T180000Z\r\n" in ics
    assert b"DTEND:20260414T213000Z\r\n" in ics


def test_text_with_commas_semicolons_backslashes_and_newlines_survives() -> None:
    event = _event(_ics())
    assert str(event["SUMMARY"]) == SUMMARY
    assert str(event["LOCATION"]) == LOCATION
    assert str(event["DESCRIPTION"]) == DESCRIPTION
    assert str(event["UID"]) == "booking-7f3c@bookings.example.com"
    assert str(event["ORGANIZER"]) == "mailto:hello@riverside.example"
    assert b"SUMMARY:Sourdough\\, part 1\\; hands-on \\\\ tasting\r\n" in _ics()


def test_lines_are_crlf_terminated_and_at_most_75_octets() -> None:
    ics = _ics()
    assert ics.endswith(b"END:VCALENDAR\r\n")
    lines = ics.split(b"\r\n")
    assert lines[-1] == b""
    assert any(line.startswith(b" ") for line in lines), "the description should be folded"
    for line in lines[:-1]:
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 75
        line.decode("utf-8")  # folds never split a multi-byte character


def test_same_arguments_give_the_same_bytes() -> None:
    assert _ics() == _ics()


def test_refuses_naive_times_inverted_events_and_odd_organizers() -> None:
    with pytest.raises(ValueError):
        _ics(starts_at=datetime(2026, 4, 14, 18, 0))
    with pytest.raises(ValueError):
        _ics(starts_at=ENDS, ends_at=STARTS)
    with pytest.raises(ValueError):
        _ics(organizer_email="hello@example.com\r\nATTENDEE:mailto:x@example.com")


def test_the_event_is_in_the_sessions_zone_with_its_vtimezone() -> None:
    ics = _ics(time_zone="Europe/London")
    assert b"DTSTART;TZID=Europe/London:20260414T190000\r\n" in ics  # 18:00 UTC is 19:00 BST
    assert b"DTEND;TZID=Europe/London:20260414T223000\r\n" in ics
    calendar = icalendar.Calendar.from_ical(ics)
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/London"
    names = {str(part["TZNAME"]) for part in zone.walk() if "TZNAME" in part}
    assert {"GMT", "BST"} <= names
    event = _event(ics)
    assert event.start == STARTS and event.end == ENDS  # the same instants
    assert str(event["DTSTART"].params["TZID"]) == "Europe/London"


def test_a_winter_event_in_new_york() -> None:
    starts = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    ics = _ics(starts_at=starts, ends_at=starts + timedelta(hours=2), time_zone="America/New_York")
    assert b"DTSTART;TZID=America/New_York:20261203T090000\r\n" in ics
    (zone,) = icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")
    assert "EST" in {str(part["TZNAME"]) for part in zone.walk() if "TZNAME" in part}


def test_the_cancellation_drops_the_same_event() -> None:
    published = _event(_ics(time_zone="Europe/London"))
    ics = _ics(time_zone="Europe/London", method=CalendarMethod.CANCEL)
    calendar = icalendar.Calendar.from_ical(ics)
    assert str(calendar["METHOD"]) == "CANCEL"
    (cancelled,) = calendar.events
    assert str(cancelled["UID"]) == str(published["UID"])
    assert cancelled.sequence > published.sequence == 0
    assert str(cancelled["STATUS"]) == "CANCELLED" and str(published["STATUS"]) == "CONFIRMED"
    assert cancelled.start == published.start


def test_control_characters_never_reach_the_file() -> None:
    event = _event(_ics(summary="Sour\x00dough\x1b", description="one\ttwo\nthree"))
    assert str(event["SUMMARY"]) == "Sourdough"
    assert str(event["DESCRIPTION"]) == "one\ttwo\nthree"
