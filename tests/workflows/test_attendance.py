"""A session's end marks attendance and issues certificates exactly once, a worker killed
mid-way or not: the booking's attendance step, in flight on a worker process that is SIGKILLed,
runs again on the next worker; each attended place gets one certificate and one email, each
no-show none. The history recorded here replays the `attendance-2026-12-06` patch's branch."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from clients.booking_workflows import start_booking_workflow
from core.enums import BookingStatus
from core.settings import Settings
from messages.booking import Attendee
from models.tables import Attendance, Certificate, CheckIn
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.polling import eventually
from tests.helpers.sellers import session_of
from tests.helpers.worker_process import WorkerProcess
from tests.helpers.workflow_bookings import QUICK, Db, booking_request, handle_of
from tests.histories import keep_history

NAMES = ["Ελένη", "Ольга", "李小龙"]


async def _attendance_in_flight(temporal: Client, booking_id: str) -> bool:
    described = await handle_of(temporal, booking_id).describe()
    return any(
        pending.activity_type.name == "record_attendance"
        and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        for pending in described.raw_description.pending_activities
    )


def _certificate_emails(sendgrid: FakeSendGrid, booking_id: str) -> list[str]:
    keys = [r.body.get("custom_args", {}).get("notification_key", "") for r in sendgrid.requests]
    return sorted(k.split(":", 1)[1] for k in keys if k.startswith(f"{booking_id}:certificate"))


async def test_a_worker_killed_while_attendance_is_recorded_certifies_each_place_once(
    settings: Settings,
    temporal: Client,
    db: Db,
    sendgrid: FakeSendGrid,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    own = settings.model_copy(update={"task_queue": f"attendance-{uuid.uuid4()}", **QUICK})
    workers.append(WorkerProcess(own, tmp_path / "worker-1.log"))
    await workers[0].ready()
    starts = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    session_id = await session_of(
        db,
        DEFAULT_ORGANISATION_ID,
        starts_at=starts,
        ends_at=starts + timedelta(seconds=1),
        price_amount=0,
        certifying=True,
    )
    request = booking_request(session_id, quantity=3)
    request.attendees = [Attendee(name) for name in NAMES]
    view = await start_booking_workflow(temporal, own, request)
    assert view.status == BookingStatus.CONFIRMED  # free: sold at once
    key = uuid.UUID(view.id)
    async with db.begin() as s:
        for index in (0, 2):
            s.add(
                CheckIn(
                    session_id=uuid.UUID(session_id),
                    booking_id=key,
                    attendee_index=index,
                    checked_in_at=datetime.now(UTC),
                )
            )

    # A place's attendance row written and not committed: the end's attendance step waits on
    # it (ON CONFLICT waits for the other transaction), in flight on the first worker.
    async with db() as holder:
        holder.add(
            Attendance(
                booking_id=key, attendee_index=0, session_id=uuid.UUID(session_id), attended=False
            )
        )
        await holder.flush()
        await eventually(
            lambda: _attendance_in_flight(temporal, view.id),
            within=20,
            every=0.1,
            what="the attendance step in flight",
        )
        workers[0].kill()
        await holder.rollback()
    workers.append(WorkerProcess(own, tmp_path / "worker-2.log"))
    await workers[1].ready()

    completed = await asyncio.wait_for(handle_of(temporal, view.id).result(), 60)
    assert completed.status == BookingStatus.COMPLETED
    expected = ["certificate:0", "certificate:2"]
    await eventually(
        lambda: asyncio.sleep(0, _certificate_emails(sendgrid, view.id)),
        lambda found: found == expected,
        within=20,
        what="one certificate email per attended place",
    )
    for index in (0, 2):
        result = await temporal.get_workflow_handle(f"certificate-{view.id}-{index}").result()
        assert result is not None
    await asyncio.sleep(0.5)
    assert _certificate_emails(sendgrid, view.id) == expected  # and no second one

    async with db() as s:
        recorded = {
            row.attendee_index: row.attended
            for row in await s.scalars(select(Attendance).where(Attendance.booking_id == key))
        }
        certificates = list(
            await s.scalars(select(Certificate).where(Certificate.booking_id == key))
        )
    assert recorded == {0: True, 1: False, 2: True}
    assert sorted((c.attendee_index, c.attendee_name) for c in certificates) == [
        (0, NAMES[0]),
        (2, NAMES[2]),
    ]
    history = await handle_of(temporal, view.id).fetch_history()
    [scheduled] = [
        e.event_id
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name == "record_attendance"
    ]
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.activity_task_started_event_attributes.scheduled_event_id == scheduled
    ]
    assert attempts == [2]  # the first attempt died with its worker
    await keep_history(temporal, view.id, "attendance-recorded_after_a_worker_kill")
