"""Attendance: at the session's end each admitted place of a confirmed booking is recorded
attended (its attendee was checked in) or a no-show, once; an organiser corrects it within
`attendance_correction_days` of the end.

The rule for corrections: the booking workflow records attendance as it completes, and a
correction is a change recorded here (the row's `corrections`, when and by which key), never a
message to the workflow, which has completed or is completing by then: it is accepted only once
the booking's attendance is recorded and until the window closes (AttendanceNotCorrectable, 409,
before and after). A place corrected to attended in a certifying session gets its certificate
(issued and emailed once: activities/certificates.py); one corrected to a no-show voids its
certificate (verification answers `valid: false`) until corrected back.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import WebhookEventType
from core.errors import AttendanceNotCorrectable, InvalidRequest
from models.tables import Attendance, Booking, Certificate, CheckIn, Session
from store.tickets import admitted_indices, attendee_name
from store.webhook_events import publish_booking_event


@dataclass(frozen=True)
class Recorded:
    """A booking's attendance as recorded: its places attended and not, and whether its session
    certifies (then each place attended is owed a certificate)."""

    attended: list[int]
    no_show: list[int]
    certifying: bool


async def record_attendance(db: AsyncSession, booking_id: uuid.UUID) -> Recorded:
    """Record each admitted place attended iff checked in, once: run again (a retry), it keeps
    what was recorded and corrected. Each no-show is an `attendee.no_show` event."""
    booking = await db.get(Booking, booking_id, with_for_update=True, populate_existing=True)
    assert booking is not None, f"no booking {booking_id}"
    session = await db.get_one(Session, booking.session_id)
    checked_in = set(  # at this session: a booking that moved was checked in at others too
        await db.scalars(
            select(CheckIn.attendee_index).where(
                CheckIn.booking_id == booking_id, CheckIn.session_id == session.id
            )
        )
    )
    for index in admitted_indices(booking):
        attended = index in checked_in
        inserted = await db.scalar(
            insert(Attendance)
            .values(
                booking_id=booking_id,
                attendee_index=index,
                session_id=session.id,
                attended=attended,
            )
            .on_conflict_do_nothing()
            .returning(Attendance.attended)
        )
        if inserted is False:
            await _publish(db, booking, index, attended=False, dedup_key=f"no-show-{index}")
    rows = await attendance_of(db, booking_id)
    return Recorded(
        attended=[row.attendee_index for row in rows if row.attended],
        no_show=[row.attendee_index for row in rows if not row.attended],
        certifying=session.certifying,
    )


async def attendance_of(db: AsyncSession, booking_id: uuid.UUID) -> list[Attendance]:
    return list(
        await db.scalars(
            select(Attendance)
            .where(Attendance.booking_id == booking_id)
            .order_by(Attendance.attendee_index)
        )
    )


async def correct_attendance(
    db: AsyncSession,
    booking: Booking,
    changes: dict[int, bool],
    api_key_id: uuid.UUID,
    now: datetime,
    window: timedelta,
) -> list[int]:
    """Set each place's attendance (index: attended); the places of `changes` attended in a
    certifying session and with no certificate yet, whose certificates are owed (a correction
    sent again asks again for what a lost start left undone). Not committed."""
    session = await db.get_one(Session, booking.session_id)
    closes = session.ends_at + window
    if now > closes:
        raise AttendanceNotCorrectable(
            f"attendance can be corrected until {closes.isoformat()}, "
            f"{window.days} days after the session's end"
        )
    rows = {
        row.attendee_index: row
        for row in await db.scalars(
            select(Attendance).where(Attendance.booking_id == booking.id).with_for_update()
        )
    }
    if not rows:
        raise AttendanceNotCorrectable(
            f"the attendance of booking {booking.reference or booking.id} is recorded when its "
            "session ends"
        )
    unknown = sorted(set(changes) - set(rows))
    if unknown:
        raise InvalidRequest(
            f"booking {booking.reference} has no recorded place {unknown[0] + 1}",
            attendee_index=unknown[0],
        )
    owed = []
    for index, attended in sorted(changes.items()):
        row = rows[index]
        certificate = await db.scalar(
            select(Certificate).where(
                Certificate.booking_id == booking.id, Certificate.attendee_index == index
            )
        )
        if certificate is None and attended and session.certifying:
            owed.append(index)
        if row.attended == attended:
            continue
        row.attended, row.corrected_at, row.corrected_by = attended, now, api_key_id
        row.corrections += 1
        if certificate is not None:
            certificate.revoked_at = None if attended else now
        key = f"attendance-{index}-correction-{row.corrections}"
        await _publish(db, booking, index, attended=attended, dedup_key=key, corrected=True)
    return owed


async def _publish(
    db: AsyncSession, booking: Booking, index: int, *, attended: bool, dedup_key: str, **more: Any
) -> None:
    """An attendee's event: a no-show, or (corrected) attended as if checked in."""
    event = WebhookEventType.ATTENDEE_CHECKED_IN if attended else WebhookEventType.ATTENDEE_NO_SHOW
    attendee = {"index": index, "name": attendee_name(booking, index), "attended": attended}
    await publish_booking_event(
        db, booking.id, event, dedup_key=dedup_key, attendee={**attendee, **more}
    )
