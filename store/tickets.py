"""A booking's tickets: one per place, each named by its attendee (the customer for places
booked without a name), each with its signed code (core/tickets.py)."""

import uuid
from dataclasses import dataclass

from core.tickets import Ticket, sign
from models.tables import Booking


@dataclass(frozen=True)
class AttendeeTicket:
    """The `index`-th place of a booking: who it admits and the code that says so."""

    index: int
    name: str
    code: str


def attendee_name(booking: Booking, index: int) -> str:
    """The named attendee of the booking's `index`-th place, else the customer who booked it."""
    attendees = booking.attendees
    named = attendees[index].get("name") if index < len(attendees) else None
    return named or booking.customer_name


def admitted_indices(booking: Booking) -> list[int]:
    """The indices of the tickets that still admit someone: place i of the places the booking
    had when it was confirmed, while it still holds that place (given back by count or by seat,
    a place's ticket is refused and the others' stay valid)."""
    issued = booking.ticket_seat_labels or booking.seat_labels
    held = set(booking.seat_labels)
    return [index for index, label in enumerate(issued) if label in held]


def booking_tickets(
    booking: Booking, organisation_id: uuid.UUID, keys: list[str]
) -> list[AttendeeTicket]:
    return [
        AttendeeTicket(
            index,
            attendee_name(booking, index),
            sign(Ticket(organisation_id, booking.session_id, booking.id, index), keys),
        )
        for index in admitted_indices(booking)
    ]
