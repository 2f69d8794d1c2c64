"""Receipts and credit notes: numbered gaplessly, rendered once, stored with their PDF."""

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.enums import DocumentKind
from core.errors import InvalidRequest
from documents.fonts import register_fonts
from documents.receipt_data import (
    DEFAULT_LOCALE,
    ReceiptData,
    ReceiptLine,
    Seller,
    format_rate,
)
from documents.receipt_pdf import render_receipt_pdf
from messages.booking import DocumentRef, IssueDocument
from models.tables import Booking, Organisation, Receipt, Session
from store.booking_records import find_document
from store.sequences import database_now, next_document_number


class ReceiptActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        seller: Seller,
        vat_rate_basis_points: int,
        locale: str = DEFAULT_LOCALE,
    ):
        register_fonts()  # a missing font stops the worker at start, not a receipt later
        self._locale = locale
        self._sessionmaker = sessionmaker
        self._seller = seller
        self._vat_rate = vat_rate_basis_points

    @activity.defn(name="issue_document")
    async def issue(self, request: IssueDocument) -> DocumentRef:
        """The same number and bytes however often it runs: the first transaction wins."""
        key = uuid.UUID(request.booking_id)
        sequence = request.refund.sequence if request.refund else None
        async with self._sessionmaker.begin() as db:
            existing = await find_document(db, key, request.kind, sequence)
            if existing is not None:
                return DocumentRef(DocumentKind(existing.kind), existing.number)
            booking = await db.get(Booking, key)
            if booking is None or booking.reference is None or booking.confirmed_at is None:
                raise InvalidRequest(f"booking {request.booking_id} was never confirmed")
            session = await db.get(Session, booking.session_id)
            assert session is not None
            refers_to = None
            if request.kind == DocumentKind.CREDIT_NOTE:
                receipt = await find_document(db, key, DocumentKind.RECEIPT)
                if receipt is None:
                    raise InvalidRequest("a credit note needs the receipt it refers to")
                refers_to = receipt.number
            now = await database_now(db)
            organisation = await db.get_one(Organisation, session.organisation_id)
            number = await next_document_number(db, organisation, request.kind, now.year)
            data = self._receipt_data(booking, session, request, number, refers_to, now)
            pdf = await asyncio.to_thread(render_receipt_pdf, data)
            db.add(
                Receipt(
                    booking_id=key,
                    kind=request.kind,
                    number=number,
                    refers_to=refers_to,
                    refund_sequence=sequence,
                    total=data.total,
                    currency=data.currency,
                    issued_at=now,
                    pdf=pdf,
                )
            )
            return DocumentRef(request.kind, number)

    def _receipt_data(
        self,
        booking: Booking,
        session: Session,
        request: IssueDocument,
        number: str,
        refers_to: str | None,
        now: datetime,
    ) -> ReceiptData:
        sign = -1 if request.kind == DocumentKind.CREDIT_NOTE else 1
        unit = booking.amount_subtotal // booking.quantity
        discount = None
        if booking.discount:
            discount = (
                f"Group discount: {format_rate(session.discount_basis_points)} off "
                f"{session.discount_min_quantity} or more places"
            )
        assert booking.reference is not None and booking.confirmed_at is not None
        lines = [
            ReceiptLine(
                f"Place: {session.title}",
                booking.quantity,
                sign * unit,
                sign * booking.amount_subtotal,
            )
        ]
        total, discount_amount = sign * booking.amount_total, sign * booking.discount
        if request.refund is not None:
            # A credit note for one refund: its amount, whatever the booking's amounts are now.
            amount = request.refund.amount
            lines = [ReceiptLine(f"Refund: {request.refund.reason}", 1, -amount, -amount)]
            total, discount, discount_amount = -amount, None, 0
        return ReceiptData(
            kind=request.kind,
            number=number,
            refers_to=refers_to,
            booking_reference=booking.reference,
            issued_at=now,
            paid_at=booking.confirmed_at if sign > 0 else now,
            seller=self._seller,
            customer_name=booking.customer_name,
            customer_email=booking.customer_email,
            session_title=session.title,
            session_location=session.location,
            session_starts_at=session.starts_at,
            session_ends_at=session.ends_at,
            attendees=_attendee_names(booking),
            lines=lines,
            discount_description=discount,
            discount_amount=discount_amount,
            total=total,
            currency=booking.currency,
            vat_rate_basis_points=self._vat_rate,
            prices_include_vat=True,
            card_brand=request.card_brand,
            card_last4=request.card_last4,
            session_time_zone=session.time_zone,
            locale=self._locale,
        )


def _attendee_names(booking: Booking) -> list[str]:
    names: Sequence[str] = [a["name"] for a in booking.attendees if a.get("name")]
    return list(names) or [booking.customer_name]
