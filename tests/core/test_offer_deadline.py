"""An offer's deadline (core.waiting_list.offer_deadline): the session's `offer_seconds` from
the offer, shortened as the start nears, never past the start (sessions have no sales-close
time of their own: their sales end at the start)."""

from datetime import UTC, datetime, timedelta

from core.waiting_list import offer_deadline

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TWELVE_HOURS = 12 * 3600


def test_far_from_the_start_an_offer_stands_its_whole_time() -> None:
    now = START - timedelta(days=3)
    assert offer_deadline(now, TWELVE_HOURS, START) == now + timedelta(hours=12)


def test_the_deadline_shortens_as_the_start_nears_and_never_passes_it() -> None:
    hours_before = [48, 13, 12, 11, 6, 1, 0.01]
    deadlines = [
        offer_deadline(START - timedelta(hours=h), TWELVE_HOURS, START) for h in hours_before
    ]
    standing = [
        d - (START - timedelta(hours=h)) for d, h in zip(deadlines, hours_before, strict=True)
    ]
    assert standing[:3] == [timedelta(hours=12)] * 3  # 12 hours or more before: all of it
    assert deadlines[3:] == [START] * 4  # within 12 hours: until the start, no later
    assert standing[3:] == sorted(standing[3:], reverse=True)  # shorter as the start nears
    assert all(d <= START for d in deadlines)


def test_an_offer_made_at_or_after_the_start_lapses_at_once() -> None:
    assert offer_deadline(START, TWELVE_HOURS, START) == START
    assert offer_deadline(START + timedelta(minutes=1), TWELVE_HOURS, START) == START
