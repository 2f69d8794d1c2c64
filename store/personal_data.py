"""One customer's personal data within one organisation: exported whole, or erased from the
bookings that are over.

Erasure replaces the names, email addresses and attendees' details of closed bookings, deletes
their answers to the session's questions, replaces the recipient of their emails, and deletes
the webhook events that copied them (with their deliveries: what a receiver already got is the
organisation's to erase) and the certificates of attendance that name the attendees (their
codes then verify nothing). It keeps what accounting law requires: receipts and credit notes
(numbered documents whose PDF names the customer) and the amounts; and which consent versions
were accepted when (the organiser's evidence, holding nothing the customer wrote). Bookings
still open are left as they are (they are still being served) and reported, so the request can
be repeated once they close. So are bookings closed a moment ago that are not yet at rest
(`settling`): an email of theirs is being sent, a webhook delivery to an enabled endpoint is
pending, or their workflow is still at work (`Busy` says which); erased now, the cancellation
email would go to the placeholder address and the shop would never hear of the cancel.
Workflow histories are encrypted and expire with the namespace's retention.
"""

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.customer_hash import normalise_email
from core.enums import OPEN_STATUSES, NotificationStatus, WebhookDeliveryStatus
from models.tables import (
    Attendance,
    Booking,
    Certificate,
    CheckIn,
    Notification,
    Receipt,
    Session,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from store.booking_records import customer_email_is

# Which of these bookings' workflows are still at work (clients.workflow_rest.busy_bookings).
Busy = Callable[[Collection[str]], Awaitable[set[str]]]

ERASED = "erased"
RETAINED = (
    "receipts and credit notes (accounting records), amounts and dates, consents accepted "
    "(version and time)"
)


@dataclass
class Erasure:
    erased: list[str] = field(default_factory=list)  # booking ids
    still_open: list[str] = field(default_factory=list)  # not erased: being served
    settling: list[str] = field(default_factory=list)  # not erased: closed, not yet at rest
    retained: str = RETAINED


async def export_customer(
    db: AsyncSession, organisation_id: uuid.UUID, email: str
) -> dict[str, Any]:
    """Everything we hold about the customer in the organisation, as JSON-ready values."""
    bookings = await _bookings_of(db, organisation_id, email)
    ids = [booking.id for booking, _ in bookings]
    emails = await db.scalars(select(Notification).where(Notification.booking_id.in_(ids)))
    documents = await db.scalars(select(Receipt).where(Receipt.booking_id.in_(ids)))
    check_ins = await db.scalars(
        select(CheckIn).where(CheckIn.booking_id.in_(ids)).order_by(CheckIn.checked_in_at)
    )
    attendance = await db.scalars(
        select(Attendance)
        .where(Attendance.booking_id.in_(ids))
        .order_by(Attendance.booking_id, Attendance.attendee_index)
    )
    certificates = await db.scalars(
        select(Certificate).where(Certificate.booking_id.in_(ids)).order_by(Certificate.issued_at)
    )
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
        # Places are numbered from 0, as the booking's attendees.
        "check_ins": [
            {
                "booking_id": str(c.booking_id),
                "place": c.attendee_index,
                "checked_in_at": _iso(c.checked_in_at),
            }
            for c in check_ins
        ],
        "attendance": [
            {
                "booking_id": str(a.booking_id),
                "place": a.attendee_index,
                "attended": a.attended,
                "recorded_at": _iso(a.recorded_at),
                "corrected_at": _iso(a.corrected_at),
            }
            for a in attendance
        ],
        "certificates": [
            {
                "booking_id": str(c.booking_id),
                "place": c.attendee_index,
                "number": c.number,
                "attendee_name": c.attendee_name,
                "course_title": c.course_title,
                "issued_at": _iso(c.issued_at),
                "revoked_at": _iso(c.revoked_at),
            }
            for c in certificates
        ],
    }


async def erase_customer(
    db: AsyncSession, organisation_id: uuid.UUID, email: str, busy: Busy
) -> Erasure:
    """Erase the customer's personal data from the bookings that are over and at rest (one
    transaction; their rows locked, so no transition lands in between)."""
    erasure = Erasure()
    bookings = [b for b, _ in await _bookings_of(db, organisation_id, email, lock=True)]
    closed = [b.id for b in bookings if b.status not in OPEN_STATUSES]
    unsettled = await _unsettled(db, closed)
    unsettled |= {uuid.UUID(b) for b in await busy([str(b) for b in closed if b not in unsettled])}
    for booking in bookings:
        if booking.status in OPEN_STATUSES:
            erasure.still_open.append(str(booking.id))
        elif booking.id in unsettled:
            erasure.settling.append(str(booking.id))
        else:
            _erase(booking)
            erasure.erased.append(str(booking.id))
    if erasure.erased:
        ids = [uuid.UUID(b) for b in erasure.erased]
        await db.execute(
            update(Notification).where(Notification.booking_id.in_(ids)).values(recipient=ERASED)
        )
        await db.execute(delete(WebhookEvent).where(WebhookEvent.stream_id.in_(ids)))
        await db.execute(delete(Certificate).where(Certificate.booking_id.in_(ids)))
    return erasure


def _erase(booking: Booking) -> None:
    booking.customer_name = ERASED
    booking.customer_email = f"{ERASED}@{booking.id}.invalid"
    booking.customer_email_normalised = normalise_email(booking.customer_email)
    booking.attendees = [{"name": ERASED} for _ in booking.attendees]
    booking.answers = []


async def _unsettled(db: AsyncSession, booking_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The bookings with an email being sent or a webhook delivery still to make (to an
    enabled endpoint: a disabled one's backlog waits for nobody)."""
    sending = select(Notification.booking_id).where(
        Notification.booking_id.in_(booking_ids),
        Notification.status == NotificationStatus.SENDING,
    )
    undelivered = (
        select(WebhookEvent.stream_id)
        .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookEvent.stream_id.in_(booking_ids),
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookEndpoint.enabled,
        )
    )
    return set(await db.scalars(union(sending, undelivered)))


async def _bookings_of(
    db: AsyncSession, organisation_id: uuid.UUID, email: str, *, lock: bool = False
) -> list[tuple[Booking, Session]]:
    query = (
        select(Booking, Session)
        .join(Session, Session.id == Booking.session_id)
        .where(
            Session.organisation_id == organisation_id,
            customer_email_is(email),
        )
        .order_by(Booking.created_at)
    )
    if lock:
        query = query.with_for_update(of=Booking)
    rows = await db.execute(query)
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
        "answers": booking.answers,
        "consents": booking.consents,
        "seats": booking.seat_labels,
        "amount_total": booking.amount_total,
        "currency": booking.currency,
        "created_at": _iso(booking.created_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
