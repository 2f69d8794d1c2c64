"""Each organisation's receipts and credit notes on the real database: its own gapless numbers
under concurrency, its own seller and VAT lines, and documents that a later profile change
never alters (the PDF, the stored seller, and the PDF a resent email carries)."""

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.mail import OutboxMailer
from activities.notifications import NotificationActivities
from activities.receipts import ReceiptActivities
from core.enums import DocumentKind, EmailKind, VatTreatment
from core.settings import Settings
from messages.booking import EmailRequest, IssueDocument
from models.tables import Booking, Receipt, ReferenceCounter
from ops.email_resend import clear_sent, send_again
from store.booking_records import get_document
from store.organisations import DEFAULT_ORGANISATION_ID, create_organisation
from store.sequences import BOOKING_SEQUENCE
from tests.conftest import OTHER_ORGANISATION_ID
from tests.helpers.activity_bookings import confirmed_booking
from tests.helpers.sellers import (
    OTHER_PROFILE,
    PNG_RED,
    SVG_LOGO,
    box_of,
    first_page,
    pdftotext,
    png_logo,
    seller_profile,
    session_of,
    set_profile,
)

# The prefixes of each organisation's references, receipts and credit notes.
PREFIXES = {
    DEFAULT_ORGANISATION_ID: ("RFT", "R", "CN"),
    OTHER_ORGANISATION_ID: ("OO", "OO-R", "OO-CN"),
}
# Sequence names in reference_counters: bookings' references, then the two kinds of document.
SEQUENCES = (BOOKING_SEQUENCE, DocumentKind.RECEIPT, DocumentKind.CREDIT_NOTE)
PER_ORGANISATION = 6


async def last_numbers(db: async_sessionmaker[AsyncSession], organisation: uuid.UUID) -> list[int]:
    """Each sequence's last number this year (0 before the first)."""
    year = datetime.now(UTC).year
    async with db() as s:
        rows = dict(
            (
                await s.execute(
                    select(ReferenceCounter.name, ReferenceCounter.last_value).where(
                        ReferenceCounter.organisation_id == organisation,
                        ReferenceCounter.year == year,
                    )
                )
            ).all()
        )
    return [rows.get(name, 0) for name in SEQUENCES]


async def sold_and_documented(
    db: async_sessionmaker[AsyncSession], session_id: str
) -> tuple[str, str, str]:
    """A booking confirmed, its receipt and its credit note: (reference, receipt, note)."""
    receipts = ReceiptActivities(db)
    booking_id = await confirmed_booking(db, session_id, 1)
    receipt = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    note = await receipts.issue(IssueDocument(booking_id, DocumentKind.CREDIT_NOTE))
    async with db() as s:
        booking = await s.get_one(Booking, uuid.UUID(booking_id))
    assert booking.reference is not None
    return booking.reference, receipt.number, note.number


async def test_two_organisations_number_concurrently_each_without_gap_or_repeat(
    db: async_sessionmaker[AsyncSession], other_seller: None
) -> None:
    sessions = {
        DEFAULT_ORGANISATION_ID: await session_of(db, DEFAULT_ORGANISATION_ID),
        OTHER_ORGANISATION_ID: await session_of(db, OTHER_ORGANISATION_ID, "EUR"),
    }
    before = {org: await last_numbers(db, org) for org in sessions}
    # Interleaved, all at once: the two organisations' numbers are taken side by side.
    owners = [org for _ in range(PER_ORGANISATION) for org in sessions]
    made = await asyncio.gather(*[sold_and_documented(db, sessions[org]) for org in owners])

    year = str(datetime.now(UTC).year)
    for org, prefixes in PREFIXES.items():
        own = [numbers for owner, numbers in zip(owners, made, strict=True) if owner == org]
        for index, (prefix, start) in enumerate(zip(prefixes, before[org], strict=True)):
            # RFT-2026-0042, OO-R-2026-000042: its prefix, the year, its next numbers.
            parts = [number.rsplit("-", 2) for number, *_ in (n[index:] for n in own)]
            assert {(p[0], p[1]) for p in parts} == {(prefix, year)}
            sequence = sorted(int(p[2]) for p in parts)
            assert sequence == list(range(start + 1, start + PER_ORGANISATION + 1)), parts
        assert await last_numbers(db, org) == [n + PER_ORGANISATION for n in before[org]]


async def receipt_of(db: async_sessionmaker[AsyncSession], session_id: str) -> tuple[str, Receipt]:
    booking_id = await confirmed_booking(db, session_id, 1)
    await ReceiptActivities(db).issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    async with db() as s:
        return booking_id, await get_document(s, booking_id, DocumentKind.RECEIPT)


async def test_each_organisation_prints_its_own_seller_and_vat(
    db: async_sessionmaker[AsyncSession], other_seller: None
) -> None:
    _, ours = await receipt_of(db, await session_of(db, DEFAULT_ORGANISATION_ID))
    _, theirs = await receipt_of(db, await session_of(db, OTHER_ORGANISATION_ID, "EUR"))

    text = pdftotext(ours.pdf)
    for expected in (
        "Rescue First Training Ltd",
        "12 Harbour Street",
        "VAT number: GB 123 4567 82",
        "VAT at 20% £12.50",
    ):
        assert expected in text, expected
    assert "Other Organiser" not in text and ours.number.startswith("R-")
    assert box_of(first_page(ours.pdf), PNG_RED) is None  # no logo: none printed

    text = pdftotext(theirs.pdf)
    for expected in (
        "Other Organiser Events Limited",
        "7 Quay Lane Cork T12 XY34 Ireland",
        "VAT number: IE 1234567 T",
        "VAT at 23% €14.02",  # 75.00 x 23 / 123, in its own currency
        "Total paid €75.00",
        "Registered in Ireland, company no. 654321. Directors: A. Byrne, C. Walsh",
    ):
        assert expected in text, expected
    assert "Rescue First" not in text and theirs.number.startswith("OO-R-")
    assert box_of(first_page(theirs.pdf), PNG_RED) is not None  # its logo
    assert seller_of(theirs) == {
        "name": "Other Organiser Events Limited",
        "address_lines": ["7 Quay Lane", "Cork T12 XY34", "Ireland"],
        "country": "IE",
        "vat_number": "IE 1234567 T",
        "logo": {"sha256": hashlib.sha256(png_logo()).hexdigest(), "content_type": "image/png"},
        "footer": OTHER_PROFILE["footer"],
        "vat_rate_basis_points": 2300,
    }


async def test_no_vat_line_without_vat_and_a_session_rate_of_its_own(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        unregistered = await create_organisation(s, f"Village Hall Yoga {uuid.uuid4().hex[:8]}")
    # A tax id on file, but not registered for VAT: no VAT, and no VAT number claimed.
    await set_profile(db, unregistered.id, tax_id="GB 999 9999 99")
    none_session = (VatTreatment.NONE, None)
    cases = {
        "not registered": await session_of(db, unregistered.id),
        "treatment none": await session_of(db, DEFAULT_ORGANISATION_ID, vat=none_session),
    }
    for case, session_id in cases.items():
        _, receipt = await receipt_of(db, session_id)
        text = pdftotext(receipt.pdf)
        assert "VAT" not in text and "Total paid" in text, (case, text)
        stored = seller_of(receipt)
        assert stored["vat_number"] is None and stored["vat_rate_basis_points"] is None, case

    rate = await session_of(db, DEFAULT_ORGANISATION_ID, vat=(VatTreatment.RATE, 500))
    _, receipt = await receipt_of(db, rate)
    text = pdftotext(receipt.pdf)
    assert "VAT at 5% £3.57" in text and "VAT number: GB 123 4567 82" in text
    assert seller_of(receipt)["vat_rate_basis_points"] == 500


async def test_a_logo_that_cannot_be_drawn_is_left_out_and_the_receipt_issued(
    db: async_sessionmaker[AsyncSession], other_seller: None
) -> None:
    # Stored before uploads were checked, or by hand: PNG's signature, then nothing usable.
    broken = {"logo": b"\x89PNG\r\n\x1a\n broken", "logo_content_type": "image/png"}
    async with seller_profile(db, OTHER_ORGANISATION_ID, **broken):
        _, receipt = await receipt_of(db, await session_of(db, OTHER_ORGANISATION_ID, "EUR"))
    assert "Other Organiser Events Limited" in pdftotext(receipt.pdf)
    assert seller_of(receipt)["logo"] is None  # as printed


async def test_a_profile_change_leaves_issued_documents_as_they_were(
    db: async_sessionmaker[AsyncSession],
    other_seller: None,
    settings: Settings,
    temporal: Client,
    tmp_path: Path,
) -> None:
    booking_id, receipt = await receipt_of(db, await session_of(db, OTHER_ORGANISATION_ID, "EUR"))
    outbox = settings.model_copy(update={"email_backend": "outbox", "outbox_dir": tmp_path})
    confirmation = EmailRequest(booking_id, EmailKind.CONFIRMATION)
    await NotificationActivities(db, OutboxMailer(tmp_path), outbox.email_from).send(confirmation)
    [sent] = tmp_path.glob("*.eml")
    assert attached_pdf(sent.read_bytes()) == receipt.pdf
    sent.unlink()

    await set_profile(
        db,
        OTHER_ORGANISATION_ID,
        legal_name="Other Organiser Group plc",
        address_lines=["1 New Road", "Dublin D02 AB12", "Ireland"],
        tax_id="IE 7654321 W",
        vat_rate_basis_points=1350,
        logo=SVG_LOGO,
        logo_content_type="image/svg+xml",
        footer="A new footer",
        email_sender_name="Other Organiser Group",
    )
    receipts = ReceiptActivities(db)
    again = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    async with db() as s:
        stored = await get_document(s, booking_id, DocumentKind.RECEIPT)
    assert again.number == receipt.number
    assert (stored.pdf, stored.seller) == (receipt.pdf, receipt.seller)
    assert seller_of(stored)["name"] == "Other Organiser Events Limited"

    # Sent again by an operator: the same receipt, byte for byte, from the new sender name.
    await clear_sent(db, booking_id, EmailKind.CONFIRMATION, None)
    resent = await send_again(db, temporal, outbox, booking_id, EmailKind.CONFIRMATION, None)
    assert resent.status == "sent"
    [eml] = tmp_path.glob("*.eml")
    assert attached_pdf(eml.read_bytes()) == receipt.pdf
    assert message_from_bytes(eml.read_bytes())["From"].startswith("Other Organiser Group <")

    # A credit note issued now names the seller as it is now, and reverses the VAT the
    # receipt charged (23 %), not today's rate.
    await receipts.issue(IssueDocument(booking_id, DocumentKind.CREDIT_NOTE))
    async with db() as s:
        note = await get_document(s, booking_id, DocumentKind.CREDIT_NOTE)
    text = pdftotext(note.pdf)
    for expected in ("Other Organiser Group plc", "1 New Road", "VAT number: IE 7654321 W"):
        assert expected in text, expected
    assert "VAT at 23% -€14.02" in text and "13.5%" not in text
    assert f"Refers to receipt {receipt.number}" in text
    assert seller_of(note)["name"] == "Other Organiser Group plc"
    assert seller_of(note)["vat_rate_basis_points"] == 2300
    assert seller_of(note)["logo"]["content_type"] == "image/svg+xml"


def seller_of(document: Receipt) -> dict[str, Any]:
    """The seller stored with a document issued since documents keep theirs."""
    assert document.seller is not None
    return document.seller


def attached_pdf(eml: bytes) -> bytes:
    """The receipt attached to an email written to the outbox."""
    message = message_from_bytes(eml)
    [receipt] = [p for p in message.walk() if (p.get_filename() or "").startswith("receipt-")]
    payload = receipt.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload
