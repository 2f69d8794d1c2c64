"""Messages of a session's change (of its time or place) as its bookings are told: plain values
only."""

from dataclasses import dataclass, field
from datetime import datetime


def session_change_id(session_id: str, sequence: int) -> str:
    """One workflow per change: starting it twice finds the same one."""
    return f"session-change-{session_id}-{sequence}"


def session_change_update_id(session_id: str | None, sequence: int) -> str:
    """The booking workflow's update for one change of one session (a booking that moved is
    told of the changes of each session it was in): sent twice, carried out once. Changes read
    before their session was named (`SessionMove.session_id`) keep their first id."""
    if session_id is None:
        return f"session-change-{sequence}"
    return f"session-change-{session_id}-{sequence}"


def keyed_session(moves: int, session_id: str | None) -> str | None:
    """The session a change's email and `booking.updated` event keys name: none for a booking
    that never moved (the keys its changes were told under before bookings could move: kept),
    else the changed session's (each session it was in numbers its changes from 1)."""
    return session_id if moves else None


# What a cancel's status reason adds when the accept-or-refund window refunded it in full.
IN_FULL_AFTER_A_CHANGE = "refunded in full: the session's time changed"

# The booking workflow's update that moves its session's times.
SESSION_CHANGED_UPDATE = "session_changed"


@dataclass
class SessionChangeInput:
    session_id: str
    sequence: int


@dataclass
class SessionMove:
    """A booking's session as its `sequence`-th change left it; until `refund_in_full_until`
    a customer's cancel is refunded in full whatever the policy (None: no such window)."""

    sequence: int
    starts_at: datetime
    ends_at: datetime
    refund_in_full_until: datetime | None = None
    # The session changed (None in changes told before it was named: the booking's).
    session_id: str | None = None


@dataclass
class BookingToTell:
    """One booking told of the session's `move`."""

    booking_id: str
    move: SessionMove


@dataclass
class FailedAnnouncement:
    booking_id: str
    error: str


@dataclass
class SessionChangeProgress:
    """Where the announcement of a change stands; its result once every booking was told."""

    session_id: str
    sequence: int
    total: int = 0
    done: int = 0
    # For an operator to retry (start the same change again: it tells those left).
    failed: list[FailedAnnouncement] = field(default_factory=list)


@dataclass
class ChangeToAnnounce:
    """What the workflow reads of the change before telling its bookings."""

    move: SessionMove
    booking_ids: list[str]
