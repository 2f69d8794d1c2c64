"""Emails go out at least once when SendGrid cannot say whether an earlier attempt got through
(an account without the paid Email Activity add-on answers its queries with 403)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.mail import SendGridMailer
from activities.notifications import NotificationActivities
from core.enums import DeliveryOutcome, EmailKind, NotificationStatus
from messages.booking import EmailRequest
from models.tables import Notification
from tests.conftest import SessionFactory
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.activity_bookings import confirmed_booking


@pytest.fixture
def sendgrid_without_activity_api() -> Iterator[FakeSendGrid]:
    with FakeSendGrid("SG.no-add-on", email_activity_api=False) as server:
        yield server


async def test_a_retry_after_a_transient_failure_still_sends(
    db: async_sessionmaker,
    new_session: SessionFactory,
    sendgrid_without_activity_api: FakeSendGrid,
) -> None:
    sendgrid = sendgrid_without_activity_api
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 1)
    activity = NotificationActivities(
        db, SendGridMailer(sendgrid.api_key, sendgrid.url), "bookings@example.com"
    )
    sendgrid.fail_next(1, 503)
    with pytest.raises(ApplicationError) as failure:  # Temporal retries this attempt
        await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))
    assert not failure.value.non_retryable

    outcome = await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))

    assert outcome.status == DeliveryOutcome.SENT
    assert len(sendgrid.requests) == 1
    async with db() as session:
        row = await session.scalar(select(Notification).where(Notification.key == outcome.key))
    assert row is not None and row.status == NotificationStatus.SENT and row.attempts == 2


async def test_a_passing_failure_of_the_query_retries_rather_than_sends_again(
    db: async_sessionmaker, new_session: SessionFactory
) -> None:
    with FakeSendGrid("SG.with-add-on") as sendgrid:
        booking_id = await confirmed_booking(db, await new_session(capacity=12), 1)
        activity = NotificationActivities(
            db, SendGridMailer(sendgrid.api_key, sendgrid.url), "bookings@example.com"
        )
        sendgrid.fail_next(1, 503)  # the first send fails
        with pytest.raises(ApplicationError):
            await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))
        sendgrid.fail_next(1, 429)  # then the "was it sent?" query is rate-limited
        with pytest.raises(ApplicationError) as failure:
            await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))
        assert not failure.value.non_retryable and sendgrid.requests == []

        outcome = await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))

        assert outcome.status == DeliveryOutcome.SENT
        assert len(sendgrid.requests) == 1
