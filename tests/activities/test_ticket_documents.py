"""Signed tickets on paper: the receipt's QR code is the booking's first ticket, and the
confirmation carries one ticket PDF per place whose QR code, read back by zbar, verifies as
that attendee's ticket (the customer's for places booked without a name)."""

import base64
import io
import uuid
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.mail import SendGridMailer
from activities.notifications import NotificationActivities
from activities.receipts import ReceiptActivities
from core.enums import DocumentKind, EmailKind
from core.settings import Settings
from core.tickets import Ticket, verify
from messages.booking import EmailRequest, IssueDocument
from models.tables import Booking, Receipt, Session
from tests.conftest import SessionFactory
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.activity_bookings import confirmed_booking
from tests.helpers.qr import qr_codes_of_pdf


async def test_receipt_and_tickets_carry_signed_codes_zbar_reads_back(
    db: async_sessionmaker[AsyncSession],
    new_session: SessionFactory,
    settings: Settings,
    tmp_path: Path,
) -> None:
    keys = settings.ticket_signing_keys
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 3, attendees=2)
    await ReceiptActivities(db, keys).issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    async with db() as s:
        booking = await s.get_one(Booking, uuid.UUID(booking_id))
        session = await s.get_one(Session, booking.session_id)
        receipt = await s.scalar(select(Receipt).where(Receipt.booking_id == booking.id))
    assert receipt is not None and booking.reference is not None

    def ticket(index: int) -> Ticket:
        return Ticket(session.organisation_id, session.id, booking.id, index)

    [receipt_code] = qr_codes_of_pdf(receipt.pdf, tmp_path)
    assert verify(receipt_code, keys) == ticket(0)
    assert booking.reference not in receipt_code

    with FakeSendGrid("SG.tickets") as sendgrid:
        mailer = SendGridMailer(sendgrid.api_key, sendgrid.url)
        activity = NotificationActivities(db, mailer, "bookings@rescuefirst.example", keys)
        await activity.send(EmailRequest(booking_id, EmailKind.CONFIRMATION))
        [request] = sendgrid.requests
    tickets = {
        a["filename"]: base64.b64decode(a["content"])
        for a in request.body["attachments"]
        if a["filename"].startswith("ticket-")
    }
    assert sorted(tickets) == [f"ticket-{booking.reference}-{n}.pdf" for n in (1, 2, 3)]
    for index, (name, attendee) in enumerate(
        zip(sorted(tickets), ["Attendee 1", "Attendee 2", "Ada Lovelace"], strict=True)
    ):
        pdf = tickets[name]
        [code] = qr_codes_of_pdf(pdf, tmp_path)
        assert verify(code, keys) == ticket(index)
        text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert attendee in text and session.title in text and booking.reference in text
