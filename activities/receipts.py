"""Receipts and credit notes: numbered gaplessly per organisation, rendered once in the
organisation's name, stored with their PDF and the seller as printed."""

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import undefer
from temporalio import activity

from core.enums import DocumentKind, VatTreatment
from core.errors import InvalidRequest
from core.settings import get_settings
from core.vat import applicable_vat_rate
from documents.fonts import register_fonts
from documents.logo_drawing import UnreadableLogo
from documents.receipt_data import (
    VAT_RATE_KEY,
    Logo,
    ReceiptData,
    ReceiptLine,
    Seller,
    format_rate,
)
from documents.receipt_pdf import render_receipt_pdf
from messages.booking import DocumentRef, IssueDocument
from models.tables import Booking, Organisation, Receipt, Session
from store.booking_payments import move_payment
from store.booking_records import find_document
from store.sequences import database_now, next_document_number
from store.tickets import booking_tickets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Terms:
    """Who sells on a document, at which VAT rate (None: none charged), in which locale."""

    seller: Seller
    vat_rate: int | None
    locale: str


class ReceiptActivities:
    """Issues each document in the name of the organisation that sells the session.

    A receipt prints the organisation's profile as it is when the receipt is issued, and the
    VAT rate that applies to its session (core.vat.applicable_vat_rate). A credit note is a
    document of its own day: it names the seller as the organisation's profile is when the
    credit note is issued (the legal seller then, e.g. after a change of registered address),
    and refers to the receipt by number. Its VAT is the receipt's, though: a credit note
    reverses VAT charged on the original supply, at the rate charged then, whatever the
    organisation's or the session's rate is now. Either way what was issued never changes:
    the PDF and `receipts.seller` (the seller as printed) are written once.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], ticket_keys: list[str] | None = None
    ):
        register_fonts()  # a missing font stops the worker at start, not a receipt later
        self._sessionmaker = sessionmaker
        # The keys that sign the receipt's ticket (BOOKING_TICKET_SIGNING_KEYS unless given).
        self._ticket_keys = ticket_keys or get_settings().ticket_signing_keys

    @activity.defn(name="issue_document")
    async def issue(self, request: IssueDocument) -> DocumentRef:
        """The same number and bytes however often it runs: the first transaction wins."""
        key = uuid.UUID(request.booking_id)
        sequence = request.refund.sequence if request.refund else None
        async with self._sessionmaker.begin() as db:
            existing = await find_document(db, key, request.kind, sequence, request.move_number)
            if existing is not None:
                return DocumentRef(DocumentKind(existing.kind), existing.number)
            booking = await db.get(Booking, key)
            if booking is None or booking.reference is None or booking.confirmed_at is None:
                raise InvalidRequest(f"booking {request.booking_id} was never confirmed")
            session = await db.get(Session, booking.session_id)
            assert session is not None
            organisation = await db.get_one(
                Organisation, session.organisation_id, options=[undefer(Organisation.logo)]
            )
            vat_rate = applicable_vat_rate(
                organisation.vat_rate_basis_points,
                VatTreatment(session.vat_treatment),
                session.vat_rate_basis_points,
            )
            refers_to = None
            if request.kind == DocumentKind.CREDIT_NOTE:
                receipt = await _receipt_of_money(db, booking)
                if receipt is None:
                    raise InvalidRequest("a credit note needs the receipt it refers to")
                refers_to = receipt.number
                vat_rate = _rate_charged(receipt, vat_rate)
            terms = _Terms(seller_of(organisation, vat_rate), vat_rate, organisation.locale)
            now = await database_now(db)
            number = await next_document_number(db, organisation, request.kind, now.year)
            data = self._receipt_data(booking, session, request, number, refers_to, now, terms)
            if request.move_number is not None:
                data = await _of_difference(db, data, booking, session, request.move_number)
            elif request.kind == DocumentKind.RECEIPT:
                first = booking_tickets(booking, organisation.id, self._ticket_keys)[0]
                data = replace(data, ticket_code=first.code)
            data, pdf = await asyncio.to_thread(_render, data)
            db.add(
                Receipt(
                    booking_id=key,
                    kind=request.kind,
                    number=number,
                    refers_to=refers_to,
                    refund_sequence=sequence,
                    move_number=request.move_number,
                    total=data.total,
                    currency=data.currency,
                    issued_at=now,
                    pdf=pdf,
                    seller=data.seller_snapshot(),
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
        terms: _Terms,
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
            seller=terms.seller,
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
            vat_rate_basis_points=terms.vat_rate,
            prices_include_vat=True,
            card_brand=request.card_brand,
            card_last4=request.card_last4,
            session_time_zone=session.time_zone,
            locale=terms.locale,
        )


async def _receipt_of_money(db: AsyncSession, booking: Booking) -> Receipt | None:
    """The receipt a credit note of `booking` refers to: its own, or, for a booking split off
    by a partial move (no receipt for money handed over), the receipt that took the money."""
    receipt = await find_document(db, booking.id, DocumentKind.RECEIPT)
    while receipt is None and booking.split_from is not None:
        booking = await db.get_one(Booking, booking.split_from)
        receipt = await find_document(db, booking.id, DocumentKind.RECEIPT)
    return receipt


async def _of_difference(
    db: AsyncSession, data: ReceiptData, booking: Booking, session: Session, move_number: int
) -> ReceiptData:
    """The receipt of a dearer move's difference: one line, the difference paid on its own
    PaymentIntent for the session moved to; the booking's own receipt stays as issued."""
    payment = await move_payment(db, booking.id, move_number)
    if payment is None:
        raise InvalidRequest(f"booking {booking.id} has no payment for move {move_number}")
    line = ReceiptLine(
        f"Moved to: {session.title} (the difference)", 1, payment.amount, payment.amount
    )
    return replace(
        data, lines=[line], total=payment.amount, discount_description=None, discount_amount=0
    )


def seller_of(organisation: Organisation, vat_rate: int | None) -> Seller:
    """The organisation's profile as a document prints it; its VAT number only on a document
    that charges VAT (`vat_rate` not None)."""
    logo = None
    if organisation.logo is not None and organisation.logo_content_type is not None:
        logo = Logo(organisation.logo, organisation.logo_content_type)
    return Seller(
        name=organisation.legal_name,
        address_lines=list(organisation.address_lines),
        vat_number=organisation.tax_id if vat_rate is not None else None,
        country=organisation.country,
        logo=logo,
        footer=organisation.footer,
    )


def _rate_charged(receipt: Receipt, rate_now: int | None) -> int | None:
    """The VAT rate the receipt charged; `rate_now` for receipts issued before documents kept
    their seller (migration 0013), which charged the one rate of their day."""
    if receipt.seller is None or VAT_RATE_KEY not in receipt.seller:
        return rate_now
    rate: int | None = receipt.seller[VAT_RATE_KEY]
    return rate


def _render(data: ReceiptData) -> tuple[ReceiptData, bytes]:
    """The document's bytes; without the logo when it cannot be drawn (a receipt is owed, a
    logo is not), and then `data` says so, so the stored seller is what was printed."""
    try:
        return data, render_receipt_pdf(data)
    except UnreadableLogo as err:
        log.warning("document %s printed without its seller's logo: %s", data.number, err)
        data = replace(data, seller=replace(data.seller, logo=None))
        return data, render_receipt_pdf(data)


def _attendee_names(booking: Booking) -> list[str]:
    names: Sequence[str] = [a["name"] for a in booking.attendees if a.get("name")]
    return list(names) or [booking.customer_name]
