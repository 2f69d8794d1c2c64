"""Ticket codes: what a QR code at the door carries, signed so it cannot be guessed or forged.

A code (core/signed_codes.py) signs a version byte, the organisation's, session's and booking's
UUIDs and the attendee's index (two bytes): 90 characters of `[A-Za-z0-9_-]`, which a QR code
at error correction M holds in a 41x41 (version 6) symbol.

The first of `ticket_signing_keys` signs, every one verifies: rotate by putting a new key first
and keeping the old ones until the tickets they signed are past their sessions.
"""

import struct
import uuid
from dataclasses import dataclass

from core.signed_codes import InvalidCode, seal, unseal

_VERSION = 1
# version, organisation, session, booking, attendee index
_BODY = struct.Struct(">B16s16s16sH")
MAX_ATTENDEE_INDEX = 0xFFFF


class InvalidTicket(InvalidCode):
    """A code that is not one this platform signed (forged, truncated, altered, an unknown key)."""


@dataclass(frozen=True)
class Ticket:
    """Whom a ticket admits: one attendee (by index in the booking) of one booking."""

    organisation_id: uuid.UUID
    session_id: uuid.UUID
    booking_id: uuid.UUID
    attendee_index: int


def sign(ticket: Ticket, keys: list[str]) -> str:
    """The ticket's code, signed with the first key."""
    if not keys:
        raise ValueError("no ticket signing key")
    if not 0 <= ticket.attendee_index <= MAX_ATTENDEE_INDEX:
        raise ValueError(f"attendee index {ticket.attendee_index} out of range")
    body = _BODY.pack(
        _VERSION,
        ticket.organisation_id.bytes,
        ticket.session_id.bytes,
        ticket.booking_id.bytes,
        ticket.attendee_index,
    )
    return seal(body, keys)


def verify(code: str, keys: list[str]) -> Ticket:
    """The ticket a code names, if any of the keys signed it; else InvalidTicket."""
    try:
        body = unseal(code.strip(), _BODY.size, keys, "ticket")
    except InvalidCode as err:
        raise InvalidTicket(str(err)) from None
    version, organisation, session, booking, index = _BODY.unpack(body)
    if version != _VERSION:
        raise InvalidTicket(f"unknown ticket version {version}")
    return Ticket(
        uuid.UUID(bytes=organisation), uuid.UUID(bytes=session), uuid.UUID(bytes=booking), index
    )
