"""Which changes of a session a booking's workflow applies (`BookingState.move_session`): each
change of its session once, the newest winning whatever their order; none of a session it has
left (a change that read the booking before it moved, told after)."""

from datetime import UTC, datetime, timedelta
from typing import cast

from messages.booking import Reservation
from messages.session_changes import SessionMove
from workflows.booking_state import BookingState
from workflows.mailbox import Mailbox
from workflows.steps import BookingSteps

STARTS = datetime(2027, 3, 1, 18, tzinfo=UTC)


def _in(session_id: str, change: int = 0) -> BookingState:
    state = BookingState(cast(BookingSteps, None), Mailbox())
    state.reservation = Reservation(
        "booking", session_id, ["A1"], 1_000, 1_000, 0, 1_000, "gbp", STARTS, STARTS,
        STARTS + timedelta(hours=2), "fingerprint",
    )  # fmt: skip
    state.session_change = change
    return state


def _change(sequence: int, session_id: str | None, hours: int = 1) -> SessionMove:
    later = STARTS + timedelta(hours=hours)
    return SessionMove(sequence, later, later + timedelta(hours=2), None, session_id)


def test_each_change_of_its_session_once_the_newest_winning() -> None:
    state = _in("target")
    assert state.move_session(_change(2, "target", hours=2))
    assert not state.move_session(_change(1, "target", hours=1))
    assert not state.move_session(_change(2, "target", hours=2))
    assert (state.session_change, state.places.session_starts_at) == (
        2,
        STARTS + timedelta(hours=2),
    )


def test_a_change_of_a_session_it_left_is_not_applied() -> None:
    state = _in("target", change=0)
    assert not state.move_session(_change(5, "source"))
    assert (state.session_change, state.places.session_starts_at) == (0, STARTS)


def test_a_change_told_before_changes_named_their_session_is_its_sessions() -> None:
    state = _in("target")
    assert state.move_session(_change(1, None))
    assert state.session_change == 1
