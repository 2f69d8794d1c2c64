"""One customer's personal data within one organisation: exported whole, or erased from the
bookings that are over.

Erasure replaces the names, email addresses and attendees' details of closed bookings, and the
recipient of their emails, and deletes the webhook events that copied them (with their
deliveries: what a receiver already got is the organisation's to erase). It keeps what
accounting law requires: receipts and credit notes (numbered documents whose PDF names the
customer) and the amounts. Bookings still open are left as they are (they are still being
served) and reported, so the request can be repeated once they close. Workflow histories are
encrypted and expire with the namespace's retention.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.customer_hash import normalise_email
from models.booking_records import customer_email_is
from models.enums import OPEN_STATUSES
from models.tables import Booking, Notification, Receipt, Session, WebhookEvent

ERASED = "erased"
RETAINED = "receipts and credit notes (accounting records), amounts and dates"


@dataclass
class Erasure:
    erased: list[str] = field(default_factory=list)  # booking ids
    still_open: list[str] = field(default_factory=list)  # not erased: being served
    retained: str = RETAINED


async def export_customer(
    db: AsyncSession, organisation_id: uuid.UUID, email: str
) -> dict[str, Any]:
    """Everything we hold about the customer in the organisation, as JSON-ready values."""
    bookings = await _bookings_of(db, organisation_id, email)
    ids = [booking.id for booking, _ in bookings]
    emails = await db.scalars(select(Notification).where(Notification.booking_id.in_(ids)))
    documents = await db.scalars(select(Receipt).where(Receipt.booking_id.in_(ids)))
    return {
        "email": normalise_email(email),
        "bookings": [_booking(booking, session) for booking, session in bookings],
        "emails": [
            {
                "booking_id": str(n.booking_id),
                "kind": n.kind,
                "to": n.recipient,
                "status": n.status,
                "sent_at": _iso(n.sent_at),
            }
            for n in emails
        ],
        "documents": [
            {
                "booking_id": str(d.booking_id),
                "kind": d.kind,
                "number": d.number,
                "issued_at": _iso(d.issued_at),
            }
            for d in documents
        ],
    }


async def erase_customer(db: AsyncSession, organisation_id: uuid.UUID, email: str) -> Erasure:
    """Erase the customer's personal data from the bookings that are over (one transaction)."""
    erasure = Erasure()
    for booking, _ in await _bookings_of(db, organisation_id, email):
        if booking.status in OPEN_STATUSES:
            erasure.still_open.append(str(booking.id))
            continue
        booking.customer_name = ERASED
        booking.customer_email = f"{ERASED}@{booking.id}.invalid"
        booking.attendees = [{"name": ERASED} for _ in booking.attendees]
        erasure.erased.append(str(booking.id))
    if erasure.erased:
        ids = [uuid.UUID(b) for b in erasure.erased]
        await db.execute(
            update(Notification).where(Notification.booking_id.in_(ids)).values(recipient=ERASED)
        )
        await db.execute(delete(WebhookEvent).where(WebhookEvent.stream_id.in_(ids)))
    return erasure


async def _bookings_of(
    db: AsyncSession, organisation_id: uuid.UUID, email: str
) -> list[tuple[Booking, Session]]:
    rows = await db.execute(
        select(Booking, Session)
        .join(Session, Session.id == Booking.session_id)
        .where(
            Session.organisation_id == organisation_id,
            customer_email_is(email),
        )
        .order_by(Booking.created_at)
    )
    return [(booking, session) for booking, session in rows.all()]


def _booking(booking: Booking, session: Session) -> dict[str, Any]:
    return {
        "id": str(booking.id),
        "reference": booking.reference,
        "status": booking.status,
        "session": {
            "id": str(session.id),
            "title": session.title,
            "starts_at": _iso(session.starts_at),
        },
        "customer": {"name": booking.customer_name, "email": booking.customer_email},
        "attendees": booking.attendees,
        "seats": booking.seat_labels,
        "amount_total": booking.amount_total,
        "currency": booking.currency,
        "created_at": _iso(booking.created_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
