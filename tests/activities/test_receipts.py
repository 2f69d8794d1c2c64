"""Receipts and credit notes on the real database: numbered once, gapless, the right figures."""

import asyncio
import io
import uuid
from datetime import UTC, datetime

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.receipts import ReceiptActivities
from core.enums import DocumentKind
from core.errors import InvalidRequest
from messages.booking import IssueDocument, Refund
from models.tables import Receipt
from store.booking_records import get_document
from tests.conftest import SessionFactory
from tests.helpers.activity_bookings import confirmed_booking


@pytest.fixture
def receipts(db: async_sessionmaker[AsyncSession]) -> ReceiptActivities:
    return ReceiptActivities(db)


def text_of(pdf: bytes) -> str:
    return " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())


async def test_group_receipt_has_the_discount_and_vat(
    receipts: ReceiptActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
) -> None:
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 5, 5)
    ref = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT, "visa", "4242"))
    async with db() as s:
        stored = await get_document(s, booking_id, DocumentKind.RECEIPT)
    text = text_of(stored.pdf)
    assert ref.number.startswith("R-") and ref.number in text
    for expected in (
        "£375.00",
        "£37.50",
        "£337.50",
        "£56.25",
        "£281.25",
        "4242",
        "Attendee 5",
        "Rescue First Training Ltd",
        "VAT number: GB 123 4567 82",
    ):
        assert expected in text, expected
    assert stored.total == 33750


async def test_single_place_receipt(
    receipts: ReceiptActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
) -> None:
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 1)
    await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    async with db() as s:
        text = text_of((await get_document(s, booking_id, DocumentKind.RECEIPT)).pdf)
    assert "£75.00" in text and "£12.50" in text  # total and its VAT at 20 % inclusive
    assert "discount" not in text.lower()


async def test_issuing_again_returns_the_same_number_and_bytes(
    receipts: ReceiptActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
) -> None:
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 2)
    first = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    async with db() as s:
        pdf = (await get_document(s, booking_id, DocumentKind.RECEIPT)).pdf
    again = await asyncio.gather(
        *[receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT)) for _ in range(3)],
        return_exceptions=True,
    )
    assert [a.number for a in again if not isinstance(a, BaseException)] in (
        [first.number] * 3,
        [first.number] * 2,
        [first.number],
    )
    async with db() as s:
        assert (await get_document(s, booking_id, DocumentKind.RECEIPT)).pdf == pdf


async def test_concurrent_receipts_are_numbered_without_gaps(
    receipts: ReceiptActivities, new_session: SessionFactory, db: async_sessionmaker
) -> None:
    session_id = await new_session(capacity=12)
    bookings = [await confirmed_booking(db, session_id, 1) for _ in range(8)]
    refs = await asyncio.gather(
        *[receipts.issue(IssueDocument(b, DocumentKind.RECEIPT)) for b in bookings]
    )
    numbers = sorted(int(r.number.rsplit("-", 1)[1]) for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + 8))


async def test_credit_note_refers_to_the_receipt_with_negative_amounts(
    receipts: ReceiptActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
) -> None:
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 5)
    with pytest.raises(InvalidRequest):
        await receipts.issue(IssueDocument(booking_id, DocumentKind.CREDIT_NOTE))
    receipt = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    note = await receipts.issue(IssueDocument(booking_id, DocumentKind.CREDIT_NOTE))
    async with db() as s:
        stored = await get_document(s, booking_id, DocumentKind.CREDIT_NOTE)
    assert note.number.startswith("CN-") and stored.refers_to == receipt.number
    assert stored.total == -33750
    text = text_of(stored.pdf)
    assert receipt.number in text and "-£337.50" in text


async def test_one_credit_note_per_refund_for_its_amount_issued_once_each(
    receipts: ReceiptActivities,
    new_session: SessionFactory,
    db: async_sessionmaker,
) -> None:
    booking_id = await confirmed_booking(db, await new_session(capacity=12), 5)
    receipt = await receipts.issue(IssueDocument(booking_id, DocumentKind.RECEIPT))
    now = datetime.now(UTC)
    goodwill = Refund(1, 10_000, "goodwill", "re_1", now)
    rest = Refund(2, 23_750, "the rest", "re_2", now)

    requests = [
        IssueDocument(booking_id, DocumentKind.CREDIT_NOTE, refund=refund)
        for refund in (goodwill, goodwill, rest)
    ]
    outcomes = await asyncio.gather(*map(receipts.issue, requests), return_exceptions=True)
    # Two attempts at one note race on its unique key: one wins, the other's retry finds it.
    assert sum(isinstance(o, BaseException) for o in outcomes) <= 1
    first, first_again, second = [
        await receipts.issue(request) if isinstance(outcome, BaseException) else outcome
        for request, outcome in zip(requests, outcomes, strict=True)
    ]
    assert first == first_again and first.number != second.number
    async with db() as s:
        notes = {
            n.refund_sequence: n
            for n in await s.scalars(
                select(Receipt).where(
                    Receipt.booking_id == uuid.UUID(booking_id),
                    Receipt.kind == DocumentKind.CREDIT_NOTE,
                )
            )
        }
    assert {seq: n.total for seq, n in notes.items()} == {1: -10_000, 2: -23_750}
    text = text_of(notes[1].pdf)
    assert receipt.number in text and "Refund: goodwill" in text and "-£100.00" in text
    assert "-£337.50" not in text
