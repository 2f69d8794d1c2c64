"""Attendance and certificates: an organiser reads and corrects a booking's attendance and
reissues a certificate (admin keys); anyone checks a certificate by its verification code.

The rule for corrections is store/attendance.py's: once the booking's attendance is recorded
(its session ended) and within `attendance_correction_days` after the end, else 409
`attendance-not-correctable`. A place newly attended in a certifying session gets its
certificate (issued and emailed once); one corrected to a no-show voids its certificate.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from sqlalchemy import select

from activities.certificates import start_certificate
from api.deps import AdminCaller, DbDep, SettingsDep, TemporalDep
from api.routes.webhook_endpoints import delivery_starter
from core.errors import InvalidRequest
from core.tickets import MAX_ATTENDEE_INDEX
from messages.certificates import CertificateRequest
from models.tables import Booking, Certificate, Session
from schemas.attendance import (
    AttendanceCorrection,
    AttendanceOut,
    CertificateOut,
    PlaceAttendanceOut,
    ReissueOut,
    VerificationOut,
)
from store.attendance import attendance_of, correct_attendance
from store.booking_records import get_booking
from store.certificates import next_reissue, verify_certificate
from store.tickets import attendee_name

router = APIRouter(tags=["attendance"])
_NOT_CORRECTABLE: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not recorded yet, or the window has closed"}
}


@router.get("/v1/bookings/{booking_id}/attendance", response_model=AttendanceOut)
async def read_attendance(
    booking_id: str, caller: AdminCaller, db: DbDep, settings: SettingsDep
) -> AttendanceOut:
    """Each place attended or not, as recorded at the session's end and corrected since."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    return await _attendance(db, booking, settings.attendance_correction_days)


@router.patch(
    "/v1/bookings/{booking_id}/attendance",
    response_model=AttendanceOut,
    responses=_NOT_CORRECTABLE,
)
async def correct(
    booking_id: str,
    body: AttendanceCorrection,
    caller: AdminCaller,
    db: DbDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    request: Request,
) -> AttendanceOut:
    """Correct places to attended or no-show; a place newly attended in a certifying session
    gets its certificate, one corrected to a no-show has it voided."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    changes = {place.attendee_index: place.attended for place in body.places}
    if len(changes) != len(body.places):
        raise InvalidRequest("each place is corrected once per request")
    window = timedelta(days=settings.attendance_correction_days)
    owed = await correct_attendance(db, booking, changes, caller.key_id, datetime.now(UTC), window)
    await db.commit()
    # After the commit; a start lost here (503) is asked again by the same correction sent again.
    for index in owed:
        await start_certificate(
            temporal, settings.task_queue, CertificateRequest(str(booking.id), index)
        )
    await delivery_starter(request, temporal, settings).nudge_stream(booking.id)
    return await _attendance(db, booking, settings.attendance_correction_days)


@router.post(
    "/v1/bookings/{booking_id}/certificates/{attendee_index}/reissue",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReissueOut,
)
async def reissue(
    booking_id: str,
    attendee_index: Annotated[int, Path(ge=0, le=MAX_ATTENDEE_INDEX)],
    caller: AdminCaller,
    db: DbDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> ReissueOut:
    """Email the place's certificate again, under its number (each reissue once)."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    certificate = await next_reissue(db, booking, attendee_index)
    number, count = certificate.number, certificate.reissues
    await db.commit()
    request = CertificateRequest(str(booking.id), attendee_index, count)
    await start_certificate(temporal, settings.task_queue, request)
    return ReissueOut(number=number, reissue=count)


@router.get("/v1/certificates/{code}", response_model=VerificationOut)
async def verify(code: str, db: DbDep, settings: SettingsDep) -> VerificationOut:
    """Public (no key): whether the certificate is valid, whom and which course it certifies;
    404 for a code that is not a certificate's."""
    verified = await verify_certificate(db, code, settings.ticket_signing_keys)
    return VerificationOut(
        valid=verified.valid,
        attendee_name=verified.attendee_name,
        course_title=verified.course_title,
    )


async def _attendance(db: DbDep, booking: Booking, window_days: int) -> AttendanceOut:
    session = await db.get_one(Session, booking.session_id)
    certificates = {
        c.attendee_index: c
        for c in await db.scalars(select(Certificate).where(Certificate.booking_id == booking.id))
    }
    places = [
        PlaceAttendanceOut(
            attendee_index=row.attendee_index,
            attendee_name=attendee_name(booking, row.attendee_index),
            attended=row.attended,
            corrected_at=row.corrected_at,
            certificate=_certificate(certificates.get(row.attendee_index)),
        )
        for row in await attendance_of(db, booking.id)
    ]
    return AttendanceOut(
        booking_id=booking.id,
        recorded=bool(places),
        correctable_until=session.ends_at + timedelta(days=window_days),
        places=places,
    )


def _certificate(certificate: Certificate | None) -> CertificateOut | None:
    if certificate is None:
        return None
    return CertificateOut(
        number=certificate.number,
        valid=certificate.revoked_at is None,
        issued_at=certificate.issued_at,
        reissues=certificate.reissues,
    )
