"""At the door (door or admin keys): check attendees in by their tickets' codes, one scan at
a time or a batch of scans made offline, and the session's door list as JSON or CSV.

A scan checks its attendee in once: a repeat answers 200 with `status: already_checked_in`
and the first scan's time (so a retried request is harmless and the door sees who came when).
A code that admits nobody here (forged, another session's, a booking no longer confirmed, a
place given back) is refused with 422 `ticket-refused` and its `reason`.
"""

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from activities.webhook_signals import DeliveryStarter
from api.deps import DbDep, DoorCaller, SettingsDep, TemporalDep
from api.routes.webhook_endpoints import delivery_starter
from clients.check_ins import tell_booking
from core.enums import CheckInOutcome, TicketRefusal
from core.errors import TicketRefused
from core.settings import Settings
from documents.bookings_csv import BOM, csv_lines, iso_utc
from messages.booking import AttendeeCheckedIn
from models.tables import Session
from schemas.check_ins import (
    BatchIn,
    BatchOut,
    CheckInIn,
    CheckInOut,
    DoorListEntryOut,
    DoorListOut,
    ScanOut,
)
from store.api_keys import Caller
from store.catalog import get_session
from store.check_ins import CheckInResult, check_in, door_list

router = APIRouter(prefix="/v1/sessions", tags=["check-ins"])
log = logging.getLogger(__name__)

_CSV_COLUMNS = ("booking_reference", "attendee_name", "place", "checked_in", "checked_in_at")
_CSV: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 with a byte order mark, one line per place, for printing",
    }
}


@router.post("/{session_id}/check-ins", response_model=CheckInOut)
async def check_in_one(
    session_id: str,
    body: CheckInIn,
    caller: DoorCaller,
    db: DbDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    request: Request,
) -> CheckInOut:
    """Check in the attendee a scanned ticket admits; the first scan wins."""
    session, _ = await get_session(db, session_id, caller.organisation_id)
    starter = delivery_starter(request, temporal, settings)
    at = datetime.now(UTC)
    return _out(
        await _admit(db, temporal, starter, settings, session, caller, body.code, at), session
    )


@router.post("/{session_id}/check-ins/batch", response_model=BatchOut)
async def check_in_batch(
    session_id: str,
    body: BatchIn,
    caller: DoorCaller,
    db: DbDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    request: Request,
) -> BatchOut:
    """Scans made offline, applied in scan order (the first scan of a ticket wins, at its scan
    time; a scanner clock ahead of ours counts as now); answered in the order sent."""
    session, _ = await get_session(db, session_id, caller.organisation_id)
    starter = delivery_starter(request, temporal, settings)
    now = datetime.now(UTC)
    order = sorted(range(len(body.scans)), key=lambda i: body.scans[i].scanned_at)
    results: dict[int, ScanOut] = {}
    for i in order:
        scan = body.scans[i]
        try:
            at = min(scan.scanned_at, now)
            result = await _admit(db, temporal, starter, settings, session, caller, scan.code, at)
        except TicketRefused as refused:
            reason = TicketRefusal(refused.extra["reason"])
            results[i] = ScanOut(
                code=scan.code, scanned_at=scan.scanned_at, refused=reason, detail=refused.detail
            )
            continue
        results[i] = ScanOut(
            code=scan.code,
            scanned_at=scan.scanned_at,
            status=result.outcome,
            check_in=_out(result, session),
        )
    return BatchOut(results=[results[i] for i in range(len(body.scans))])


@router.get("/{session_id}/attendees", response_model=DoorListOut, responses=_CSV)
async def attendees(
    session_id: str,
    caller: DoorCaller,
    db: DbDep,
    accept: Annotated[str | None, Header()] = None,
) -> DoorListOut | Response:
    """Every place of the session's confirmed bookings and whether its attendee is in; CSV
    for `Accept: text/csv` (or the `.csv` route)."""
    if accept is not None and "text/csv" in accept:
        return await attendees_csv(session_id, caller, db)
    session, _ = await get_session(db, session_id, caller.organisation_id)
    entries = await door_list(db, session)
    return DoorListOut(
        session_id=session.id,
        attendees=[
            DoorListEntryOut(
                booking_id=e.booking_id,
                booking_reference=e.booking_reference,
                attendee_index=e.attendee_index,
                attendee_name=e.attendee_name,
                checked_in=e.checked_in_at is not None,
                checked_in_at=e.checked_in_at,
            )
            for e in entries
        ],
        checked_in=sum(e.checked_in_at is not None for e in entries),
        total=len(entries),
    )


@router.get("/{session_id}/attendees.csv", response_class=Response, responses=_CSV)
async def attendees_csv(session_id: str, caller: DoorCaller, db: DbDep) -> Response:
    """The door list as CSV, one line per place, times in ISO 8601 (UTC)."""
    session, _ = await get_session(db, session_id, caller.organisation_id)
    entries = await door_list(db, session)
    rows = [
        [
            e.booking_reference or str(e.booking_id),
            e.attendee_name,
            e.attendee_index + 1,
            "yes" if e.checked_in_at else "no",
            iso_utc(e.checked_in_at),
        ]
        for e in entries
    ]
    filename = f"session-{session.id}-attendees.csv"
    return Response(
        BOM + csv_lines([_CSV_COLUMNS, *rows]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _admit(
    db: AsyncSession,
    temporal: Client,
    starter: DeliveryStarter,
    settings: Settings,
    session: Session,
    caller: Caller,
    code: str,
    at: datetime,
) -> CheckInResult:
    """The check-in row first (it decides), then the booking's workflow told (at every scan, so
    one lost after the row was written is sent again by the next)."""
    keys = settings.ticket_signing_keys
    result = await check_in(db, session, code, keys, at, caller.key_id)
    note = AttendeeCheckedIn(
        result.ticket.attendee_index, result.checked_in_at, str(result.ticket.session_id)
    )
    booking_id = result.ticket.booking_id
    await tell_booking(temporal, str(booking_id), note, settings.workflow_accept_seconds)
    if result.outcome == CheckInOutcome.CHECKED_IN:
        await _wake_webhooks(starter, booking_id)
    return result


async def _wake_webhooks(starter: DeliveryStarter, booking_id: uuid.UUID) -> None:
    """Send the `attendee.checked_in` event now; a wake-up lost (Temporal down) is the safety
    net's, whose sweep wakes every delivery left pending."""
    try:
        await starter.nudge_stream(booking_id)
    except Exception:
        log.exception("booking %s: its check-in webhook is left to the safety net", booking_id)


def _out(result: CheckInResult, session: Session) -> CheckInOut:
    local = result.checked_in_at.astimezone(ZoneInfo(session.time_zone))
    message = f"{result.attendee_name}: checked in"
    if result.outcome == CheckInOutcome.ALREADY_CHECKED_IN:
        message = f"{result.attendee_name}: already checked in at {local:%H:%M}"
    return CheckInOut(
        status=result.outcome,
        message=message,
        attendee_name=result.attendee_name,
        attendee_index=result.ticket.attendee_index,
        booking_id=result.ticket.booking_id,
        booking_reference=result.booking_reference,
        checked_in_at=result.checked_in_at,
    )
