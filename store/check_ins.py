"""Check-ins at the door: a scanned ticket checks its attendee in once, whoever scans it how
often; and the door list of a session's attendees with their check-in state.

One row per place and session (`one_check_in_per_session_place`): concurrent scanners and
retried requests insert with ON CONFLICT DO NOTHING, so exactly one scan wins and the others
read its row; a booking that moved is checked in at its new session as at its first (the rows
of the sessions it left stay, as history).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import BookingStatus, CheckInOutcome, TicketRefusal, WebhookEventType
from core.errors import TicketRefused
from core.tickets import InvalidTicket, Ticket, verify
from models.tables import Booking, CheckIn, Session
from store.tickets import admitted_indices, attendee_name
from store.webhook_events import publish_booking_event

# Bookings whose places admit their attendees (COMPLETED: the session has ended).
_ADMITTED = frozenset({BookingStatus.CONFIRMED, BookingStatus.COMPLETED})


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckInOutcome
    ticket: Ticket
    attendee_name: str
    booking_reference: str | None
    checked_in_at: datetime


@dataclass(frozen=True)
class DoorListEntry:
    booking_id: uuid.UUID
    booking_reference: str | None
    attendee_index: int
    attendee_name: str
    checked_in_at: datetime | None


async def admitted_ticket(
    db: AsyncSession, session: Session, code: str, keys: list[str]
) -> tuple[Ticket, Booking]:
    """The ticket a code names and its booking, if it admits someone to `session`; else
    TicketRefused with the reason."""
    try:
        ticket = verify(code, keys)
    except InvalidTicket as err:
        raise TicketRefused(f"not a valid ticket: {err}", reason=TicketRefusal.INVALID) from None
    if (ticket.organisation_id, ticket.session_id) != (session.organisation_id, session.id):
        raise TicketRefused("the ticket is for another session", reason=TicketRefusal.OTHER_SESSION)
    # The booking's row held until the check-in commits: no cancel slips between the check and
    # the check-in, and the booking's events (the check-in's webhook) keep their order.
    booking = await db.get(Booking, ticket.booking_id, with_for_update=True, populate_existing=True)
    assert booking is not None, f"a signed ticket of no booking {ticket.booking_id}"
    if booking.status not in _ADMITTED:
        raise TicketRefused(
            f"the booking {booking.reference or booking.id} is {booking.status.lower()}",
            reason=TicketRefusal.BOOKING_NOT_CONFIRMED,
            booking_status=booking.status,
        )
    if booking.session_id != session.id:
        raise TicketRefused(
            f"the booking {booking.reference} moved to another session: its move's email has "
            "the tickets for it",
            reason=TicketRefusal.BOOKING_MOVED,
        )
    if ticket.attendee_index not in admitted_indices(booking):
        raise TicketRefused(
            f"place {ticket.attendee_index + 1} of booking {booking.reference} was cancelled",
            reason=TicketRefusal.PLACE_CANCELLED,
        )
    return ticket, booking


async def check_in(
    db: AsyncSession,
    session: Session,
    code: str,
    keys: list[str],
    scanned_at: datetime,
    api_key_id: uuid.UUID,
) -> CheckInResult:
    """Check the ticket's attendee in at `scanned_at` unless already checked in; committed."""
    ticket, booking = await admitted_ticket(db, session, code, keys)
    inserted = await db.scalar(
        insert(CheckIn)
        .values(
            session_id=session.id,
            booking_id=booking.id,
            attendee_index=ticket.attendee_index,
            checked_in_at=scanned_at,
            api_key_id=api_key_id,
        )
        .on_conflict_do_nothing(constraint="one_check_in_per_session_place")
        .returning(CheckIn.checked_in_at)
    )
    name = attendee_name(booking, ticket.attendee_index)
    outcome = CheckInOutcome.CHECKED_IN
    if inserted is not None:
        attendee = {
            "index": ticket.attendee_index,
            "name": name,
            "checked_in_at": inserted.isoformat(),
        }
        await publish_booking_event(
            db,
            booking.id,
            WebhookEventType.ATTENDEE_CHECKED_IN,
            dedup_key=_checked_in_key(booking, ticket),
            attendee=attendee,
        )
    else:
        outcome = CheckInOutcome.ALREADY_CHECKED_IN
        inserted = await db.scalar(
            select(CheckIn.checked_in_at).where(
                CheckIn.booking_id == booking.id,
                CheckIn.session_id == session.id,
                CheckIn.attendee_index == ticket.attendee_index,
            )
        )
        assert inserted is not None
    await db.commit()
    return CheckInResult(outcome, ticket, name, booking.reference, inserted)


def _checked_in_key(booking: Booking, ticket: Ticket) -> str:
    """The `attendee.checked_in` event's dedup key: `checked-in-<place>` for a booking that never
    moved (its events' keys before bookings could move), the session named for one that moved
    (checked in at each session it was in)."""
    key = f"checked-in-{ticket.attendee_index}"
    return f"{key}-{ticket.session_id}" if booking.moves else key


async def door_list(db: AsyncSession, session: Session) -> list[DoorListEntry]:
    """Every place of the session's admitted bookings, by booking (oldest first) and place."""
    bookings = (
        await db.scalars(
            select(Booking)
            .where(Booking.session_id == session.id, Booking.status.in_(_ADMITTED))
            .order_by(Booking.created_at, Booking.id)
        )
    ).all()
    checked = {
        (row.booking_id, row.attendee_index): row.checked_in_at
        for row in await db.scalars(select(CheckIn).where(CheckIn.session_id == session.id))
    }
    return [
        DoorListEntry(
            booking.id,
            booking.reference,
            index,
            attendee_name(booking, index),
            checked.get((booking.id, index)),
        )
        for booking in bookings
        for index in admitted_indices(booking)
    ]
