"""Messages of the session-cancellation workflow: plain values only."""

from dataclasses import dataclass, field

from core.enums import BookingStatus


def session_cancellation_id(session_id: str) -> str:
    """One cancellation per session: starting it twice finds the same workflow."""
    return f"session-cancellation-{session_id}"


# The reason its bookings are closed with when the organiser gives none.
SESSION_CANCELLED_REASON = "the session was cancelled"


@dataclass
class SessionCancellationInput:
    session_id: str
    reason: str = SESSION_CANCELLED_REASON


@dataclass
class BookingToCancel:
    booking_id: str
    reason: str


@dataclass
class FailedCancellation:
    booking_id: str
    error: str


@dataclass
class SessionCancellationProgress:
    """Where a session's cancellation stands; its result once every booking is done."""

    session_id: str
    total: int = 0
    done: int = 0
    # Resulting booking status -> how many bookings ended so.
    outcomes: dict[BookingStatus, int] = field(default_factory=dict)
    # For an operator to retry (start the cancellation again: it finishes what is left).
    failed: list[FailedCancellation] = field(default_factory=list)
