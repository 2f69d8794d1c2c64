"""A certificate's email is keyed by its place and reissue, and the safety net's resend of a
failed one asks for that very email again (the same key: never a second certificate's)."""

import uuid

import pytest

from activities.notifications import email_key, notification_key
from activities.repairs import _request_again
from core.enums import EmailKind
from models.tables import Notification

BOOKING = uuid.UUID("0b6f6c3e-8d7e-4a57-9c39-0d1f6b9a2e11")


@pytest.mark.parametrize(("index", "reissue"), [(0, 0), (2, 0), (2, 1), (11, 3)])
def test_a_failed_certificate_email_is_asked_again_under_its_own_key(
    index: int, reissue: int
) -> None:
    key = notification_key(
        str(BOOKING), EmailKind.CERTIFICATE, attendee_index=index, reissue=reissue
    )
    assert key == f"{BOOKING}:certificate:{index}" + (f":{reissue}" if reissue else "")
    failed = Notification(key=key, booking_id=BOOKING, kind=EmailKind.CERTIFICATE)
    request = _request_again(failed, {}, paid=True)
    assert (request.kind, request.attendee_index, request.reissue) == (
        EmailKind.CERTIFICATE,
        index,
        reissue,
    )
    assert email_key(request) == key
