"""The booking workflow's last step at its session's end: the booking's attendance recorded
(checked in: attended, else a no-show) and the certificates owed asked for, in one activity
whose every part is idempotent (activities/certificates.py). Behind the `ATTENDANCE_PATCH`:
bookings that reached their end before it complete as they did."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.certificates import AttendanceActivities
    from messages.certificates import AttendanceRecorded
    from workflows.options import ATTENDANCE_PATCH, DATABASE_STEP


async def record_attendance(booking_id: str) -> AttendanceRecorded | None:
    """The booking's attendance as recorded; None for a run begun before the patch."""
    if not workflow.patched(ATTENDANCE_PATCH):
        return None
    return await workflow.execute_activity_method(
        AttendanceActivities.record,
        booking_id,
        summary="record attendance, ask for certificates",
        **DATABASE_STEP,
    )
