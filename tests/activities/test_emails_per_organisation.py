"""Emails speak in the selling organisation's name: the platform's From address under its
sender name, its Reply-To when it has one, its legal name in the text, in the `.eml` of the
outbox and in the request to SendGrid alike."""

from email import message_from_bytes
from email.message import Message
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.mail import OutboxMailer, SendGridMailer
from activities.notifications import NotificationActivities
from core.enums import EmailKind
from messages.booking import EmailRequest
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.conftest import OTHER_ORGANISATION_ID
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.activity_bookings import confirmed_booking
from tests.helpers.sellers import session_of

FROM = "bookings@platform.example"


def text_part(message: Message) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_the_outbox_writes_each_organisations_sender_and_reply_to(
    db: async_sessionmaker[AsyncSession], other_seller: None, tmp_path: Path
) -> None:
    ours = await confirmed_booking(db, await session_of(db, DEFAULT_ORGANISATION_ID), 1)
    theirs = await confirmed_booking(db, await session_of(db, OTHER_ORGANISATION_ID, "EUR"), 1)
    activity = NotificationActivities(db, OutboxMailer(tmp_path), FROM)
    for booking_id in (ours, theirs):
        await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))

    other = message_from_bytes((tmp_path / f"{theirs}-reminder.eml").read_bytes())
    assert other["From"] == f"Other Organiser Bookings <{FROM}>"
    assert other["Reply-To"] == "hello@other-organiser.example"
    text = text_part(other)
    assert "Other Organiser Events Limited" in text and "Rescue First" not in text

    default = message_from_bytes((tmp_path / f"{ours}-reminder.eml").read_bytes())
    assert default["From"] == f"Rescue First Training Ltd <{FROM}>"
    assert default["Reply-To"] is None  # none set: replies go to the From address
    assert "Rescue First Training Ltd" in text_part(default)


async def test_sendgrid_is_asked_for_each_organisations_sender_and_reply_to(
    db: async_sessionmaker[AsyncSession], other_seller: None
) -> None:
    ours = await confirmed_booking(db, await session_of(db, DEFAULT_ORGANISATION_ID), 1)
    theirs = await confirmed_booking(db, await session_of(db, OTHER_ORGANISATION_ID, "EUR"), 1)
    with FakeSendGrid("SG.sellers") as sendgrid:
        activity = NotificationActivities(db, SendGridMailer(sendgrid.api_key, sendgrid.url), FROM)
        for booking_id in (ours, theirs):
            await activity.send(EmailRequest(booking_id, EmailKind.REMINDER))
        default, other = (request.body for request in sendgrid.requests)

    assert other["from"] == {"email": FROM, "name": "Other Organiser Bookings"}
    assert other["reply_to"] == {"email": "hello@other-organiser.example"}
    [text] = [c["value"] for c in other["content"] if c["type"] == "text/plain"]
    assert "Other Organiser Events Limited" in text

    assert default["from"] == {"email": FROM, "name": "Rescue First Training Ltd"}
    assert "reply_to" not in default
