"""A change's email is keyed by its sequence, and by its session once the booking has moved
(each session numbers its changes from 1); the safety net's resend of a failed one asks for
that very email again (the same key, the same session's change)."""

import uuid

import pytest

from activities.notifications import email_key, notification_key
from activities.repairs import _request_again
from core.enums import EmailKind
from models.tables import Notification

BOOKING = uuid.UUID("5d0b7c1e-2a4f-4f0e-9b61-3c8e7a9d1f22")
SESSION = "9a3e1f7c-6b2d-4c58-8e0a-1f4d6b7c2e93"


@pytest.mark.parametrize(("sequence", "session"), [(1, None), (3, None), (1, SESSION)])
def test_a_failed_change_email_is_asked_again_under_its_own_key(
    sequence: int, session: str | None
) -> None:
    key = notification_key(
        str(BOOKING), EmailKind.SESSION_CHANGED, sequence, change_session_id=session
    )
    assert key == f"{BOOKING}:session_changed:{sequence}" + (f":{session}" if session else "")
    failed = Notification(key=key, booking_id=BOOKING, kind=EmailKind.SESSION_CHANGED)
    request = _request_again(failed, {}, paid=True)
    assert (request.change_sequence, request.change_session_id) == (sequence, session)
    assert email_key(request) == key
