"""Ticket codes: what a QR code at the door carries, signed so it cannot be guessed or forged.

A code is the URL-safe base64 (no padding) of a version byte, the organisation's, session's and
booking's UUIDs, the attendee's index (two bytes) and an HMAC-SHA256 over all of them truncated
to 16 bytes (RFC 2104 allows truncation to half the hash): 90 characters of `[A-Za-z0-9_-]`,
which a QR code at error correction M holds in a 41x41 (version 6) symbol.

The first of `ticket_signing_keys` signs, every one verifies: rotate by putting a new key first
and keeping the old ones until the tickets they signed are past their sessions.
"""

import base64
import hashlib
import hmac
import re
import struct
import uuid
from dataclasses import dataclass

_VERSION = 1
_MAC_BYTES = 16
# version, organisation, session, booking, attendee index
_BODY = struct.Struct(">B16s16s16sH")
_CODE_BYTES = _BODY.size + _MAC_BYTES
_CODE = re.compile(r"[A-Za-z0-9_-]{90}")
MAX_ATTENDEE_INDEX = 0xFFFF


class InvalidTicket(ValueError):
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
    return _encode(body + _mac(body, keys[0]))


def verify(code: str, keys: list[str]) -> Ticket:
    """The ticket a code names, if any of the keys signed it; else InvalidTicket."""
    raw = _decode(code.strip())
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not any(hmac.compare_digest(mac, _mac(body, key)) for key in keys):
        raise InvalidTicket("the ticket's signature does not match")
    version, organisation, session, booking, index = _BODY.unpack(body)
    if version != _VERSION:
        raise InvalidTicket(f"unknown ticket version {version}")
    return Ticket(
        uuid.UUID(bytes=organisation), uuid.UUID(bytes=session), uuid.UUID(bytes=booking), index
    )


def _decode(code: str) -> bytes:
    if not _CODE.fullmatch(code):
        raise InvalidTicket("not a ticket code")
    raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    if _encode(raw) != code:  # the last character's unused bits: one spelling per ticket
        raise InvalidTicket("not a ticket code")
    return raw


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(body: bytes, key: str) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()[:_MAC_BYTES]
