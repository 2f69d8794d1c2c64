"""Emails through the real sendgrid library against a local v3 server: content, attachments,
failures, never twice for one key, a stored name that would break a header, and the last
attempt of the retry policy (the email is marked failed, not left `sending`)."""

import base64
import dataclasses
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import icalendar
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mail import OutboxMailer, SendGridMailer
from activities.notifications import NotificationActivities
from activities.receipts import ReceiptActivities
from core.enums import DocumentKind, EmailKind, NotificationStatus
from messages.booking import EmailRequest, IssueDocument
from models.tables import Booking, Notification
from tests.conftest import SessionFactory
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.activity_bookings import confirmed_booking


@pytest.fixture
def fresh_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid("SG.unit") as server:
        yield server


def notifications(db: async_sessionmaker, mailer: object) -> NotificationActivities:
    return NotificationActivities(db, mailer, "bookings@rescuefirst.example")  # type: ignore[arg-type]


async def confirmed_with_receipt(db: async_sessionmaker, session_id: str) -> str:
    booking_id = await confirmed_booking(db, session_id, 2)
    await ReceiptActivities(db).issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    return booking_id


async def status_of(db: async_sessionmaker[AsyncSession], key: str) -> Notification:
    async with db() as s:
        row = await s.scalar(select(Notification).where(Notification.key == key))
        assert row is not None
        return row


async def test_confirmation_carries_the_receipt_and_a_calendar_event(
    db: async_sessionmaker, new_session: SessionFactory, fresh_sendgrid: FakeSendGrid
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    mailer = SendGridMailer(fresh_sendgrid.api_key, fresh_sendgrid.url)
    outcome = await notifications(db, mailer).send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
    assert outcome.status == "sent"

    [request] = fresh_sendgrid.requests
    body = request.body
    assert body["personalizations"][0]["to"][0]["email"] == "ada@example.com"
    assert "Emergency First Aid at Work" in body["subject"]
    assert body["custom_args"] == {"notification_key": f"{booking_id}:confirmation"}
    files = {a["filename"]: a for a in body["attachments"]}
    receipt = next(a for name, a in files.items() if name.startswith("receipt-R-"))
    assert receipt["type"] == "application/pdf"
    assert base64.b64decode(receipt["content"]).startswith(b"%PDF")
    calendar = icalendar.Calendar.from_ical(base64.b64decode(files["session.ics"]["content"]))
    event = next(iter(calendar.walk("VEVENT")))
    async with db() as s:
        from models.tables import Booking, Session

        booking = await s.get(Booking, uuid.UUID(booking_id))
        session = await s.get(Session, booking.session_id)  # type: ignore[union-attr]
    assert event.decoded("DTSTART") == session.starts_at  # type: ignore[union-attr]
    assert event.decoded("DTEND") == session.ends_at  # type: ignore[union-attr]
    assert (await status_of(db, outcome.key)).status == "sent"


async def test_server_errors_are_retried_and_one_email_goes_out(
    db: async_sessionmaker, new_session: SessionFactory, fresh_sendgrid: FakeSendGrid
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    activity = notifications(db, SendGridMailer(fresh_sendgrid.api_key, fresh_sendgrid.url))
    fresh_sendgrid.fail_next(2, 500)
    for _ in range(2):  # what Temporal's retries do
        with pytest.raises(ApplicationError) as failure:
            await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
        assert failure.value.type == "MailUnavailable" and not failure.value.non_retryable
    assert (await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))).status == "sent"
    assert (
        await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
    ).status == "already-sent"
    assert len(fresh_sendgrid.requests) == 1
    assert (await status_of(db, f"{booking_id}:confirmation")).attempts == 4


async def test_a_refusal_is_recorded_and_not_retried(
    db: async_sessionmaker, new_session: SessionFactory, fresh_sendgrid: FakeSendGrid
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    activity = notifications(db, SendGridMailer("SG.wrong-key", fresh_sendgrid.url))
    assert (await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))).status == "refused"
    row = await status_of(db, f"{booking_id}:reminder")
    assert row.status == "failed" and "401" in (row.last_error or "")
    assert (await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))).status == "refused"
    assert fresh_sendgrid.requests == []


async def test_a_crash_between_sending_and_recording_does_not_send_twice(
    db: async_sessionmaker, new_session: SessionFactory, fresh_sendgrid: FakeSendGrid
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    activity = notifications(db, SendGridMailer(fresh_sendgrid.api_key, fresh_sendgrid.url))
    record = activity._record_outcome
    crashes: list[str] = []

    async def crash_once(key: str, status: NotificationStatus, error: str | None = None) -> None:
        if status == NotificationStatus.SENT and not crashes:
            crashes.append(key)
            raise ConnectionError("worker died right after SendGrid said 202")
        await record(key, status, error)

    activity._record_outcome = crash_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
    assert (
        await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
    ).status == "already-sent"
    assert len(fresh_sendgrid.requests) == 1
    assert (await status_of(db, f"{booking_id}:confirmation")).status == "sent"


async def test_outbox_writes_eml_files_with_attachments(
    db: async_sessionmaker, new_session: SessionFactory, tmp_path: Path
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    mailer = OutboxMailer(tmp_path)
    await notifications(db, mailer).send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
    [eml] = list(tmp_path.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes())
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    names = sorted(str(part.get_filename()) for part in message.walk() if part.get_filename())
    assert names[1] == "session.ics" and names[0].startswith("receipt-R-")
    assert await mailer.was_sent(f"{booking_id}:confirmation")


async def _name_booking(db: async_sessionmaker, booking_id: str, name: str) -> None:
    """As data stored before the API refused control characters (or by an operator)."""
    async with db.begin() as s:
        await s.execute(update(Booking).where(Booking.id == booking_id).values(customer_name=name))


async def test_a_stored_name_with_a_newline_still_gets_its_email(
    db: async_sessionmaker,
    new_session: SessionFactory,
    fresh_sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    await _name_booking(db, booking_id, "Ada\r\nBcc: eve@example.com\x85Lovelace, Jr")
    outbox = await notifications(db, OutboxMailer(tmp_path)).send(
        EmailRequest(booking_id, EmailKind.CONFIRMATION)
    )
    assert outbox.status == "sent"
    [eml] = list(tmp_path.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes())
    assert message["To"] == '"Ada Bcc: eve@example.com Lovelace, Jr" <ada@example.com>'
    assert message["Bcc"] is None

    mailer = SendGridMailer(fresh_sendgrid.api_key, fresh_sendgrid.url)
    sent = await notifications(db, mailer).send(EmailRequest(booking_id, EmailKind.REMINDER))
    assert sent.status == "sent"
    [to] = fresh_sendgrid.requests[0].body["personalizations"][0]["to"]
    assert to == {"email": "ada@example.com", "name": "Ada Bcc: eve@example.com Lovelace, Jr"}


def _at_attempt(attempt: int, maximum: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    policy = RetryPolicy(maximum_attempts=maximum)
    env.info = dataclasses.replace(env.info, attempt=attempt, retry_policy=policy)
    return env


async def test_the_last_attempt_marks_an_email_that_cannot_go_failed(
    db: async_sessionmaker, new_session: SessionFactory, fresh_sendgrid: FakeSendGrid
) -> None:
    booking_id = await confirmed_with_receipt(db, await new_session(capacity=12))
    activity = notifications(db, SendGridMailer(fresh_sendgrid.api_key, fresh_sendgrid.url))
    request = EmailRequest(booking_id, EmailKind.CONFIRMATION)
    key = f"{booking_id}:confirmation"
    fresh_sendgrid.fail_next(2, 503)
    with pytest.raises(ApplicationError):  # not yet the last: Temporal tries again
        await _at_attempt(9, 10).run(activity.send, request)
    assert (await status_of(db, key)).status == "sending"
    outcome = await _at_attempt(10, 10).run(activity.send, request)
    assert outcome.status == "refused"
    row = await status_of(db, key)
    assert row.status == "failed" and "503" in (row.last_error or "")
    assert fresh_sendgrid.requests == []
