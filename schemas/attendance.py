"""Attendance and certificate bodies: a booking's attendance and its corrections, a reissue,
and what a public verification reveals."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.tickets import MAX_ATTENDEE_INDEX


class CertificateOut(BaseModel):
    number: str
    valid: bool = Field(description="False while its place is corrected to a no-show")
    issued_at: datetime
    reissues: int


class PlaceAttendanceOut(BaseModel):
    attendee_index: int
    attendee_name: str
    attended: bool
    corrected_at: datetime | None
    certificate: CertificateOut | None


class AttendanceOut(BaseModel):
    """A booking's attendance, recorded at its session's end (`recorded` false before)."""

    booking_id: uuid.UUID
    recorded: bool
    correctable_until: datetime = Field(description="Corrections are refused after this")
    places: list[PlaceAttendanceOut]


class PlaceCorrection(BaseModel):
    attendee_index: Annotated[int, Field(ge=0, le=MAX_ATTENDEE_INDEX)]
    attended: bool


class AttendanceCorrection(BaseModel):
    places: Annotated[list[PlaceCorrection], Field(min_length=1, max_length=1000)]


class ReissueOut(BaseModel):
    """The reissue under way: the same certificate, emailed again."""

    number: str
    reissue: int


class VerificationOut(BaseModel):
    """All a verification code reveals."""

    valid: bool
    attendee_name: str
    course_title: str
