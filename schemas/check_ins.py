"""Check-in request and answer bodies: one scan, a batch of offline scans, the door list."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.enums import CheckInOutcome, TicketRefusal
from schemas.fields import UtcDatetime

# A ticket code is 90 characters (core/tickets.py); a little room for what scanners add.
Code = Annotated[str, Field(min_length=1, max_length=200, examples=["AQ..."])]
MAX_BATCH = 500


class CheckInIn(BaseModel):
    code: Code


class CheckInOut(BaseModel):
    """Whom the ticket admits; `status` says whether this scan let them in or found them in
    already (then `checked_in_at` is the first scan's time and `message` says so)."""

    status: CheckInOutcome
    message: str
    attendee_name: str
    attendee_index: int
    booking_id: uuid.UUID
    booking_reference: str | None
    checked_in_at: datetime


class ScanIn(BaseModel):
    code: Code
    scanned_at: UtcDatetime


class BatchIn(BaseModel):
    scans: Annotated[list[ScanIn], Field(min_length=1, max_length=MAX_BATCH)]


class ScanOut(BaseModel):
    """One scan of a batch, in the order sent: its check-in, or why the code was refused."""

    code: str
    scanned_at: datetime
    status: CheckInOutcome | None = None
    refused: TicketRefusal | None = None
    detail: str | None = None
    check_in: CheckInOut | None = None


class BatchOut(BaseModel):
    results: list[ScanOut]


class DoorListEntryOut(BaseModel):
    booking_id: uuid.UUID
    booking_reference: str | None
    attendee_index: int
    attendee_name: str
    checked_in: bool
    checked_in_at: datetime | None


class DoorListOut(BaseModel):
    session_id: uuid.UUID
    attendees: list[DoorListEntryOut]
    checked_in: int
    total: int
