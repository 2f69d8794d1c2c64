"""Attendance at a session's end and certificates of attendance: the booking workflow's last
step records its places attended or not and asks for the certificates owed; each certificate is
issued and emailed by a workflow of its own (`CertificateWorkflow`), whoever asks (the
booking's end, an organiser's correction, a retry of either): one at a time per place, and
once, each of its steps finding what a run before it did."""

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from activities.webhook_signals import DeliveryStarter
from core.certificates import certificate_code
from documents.certificate_pdf import CertificateData, render_certificate_pdf
from messages.certificates import (
    CERTIFICATE_WORKFLOW,
    AttendanceRecorded,
    CertificateRequest,
    certificate_workflow_id,
)
from models.tables import Attendance, Booking, Certificate, Organisation, Session
from store.attendance import record_attendance
from store.certificates import find_certificate
from store.sequences import database_now, next_certificate_number
from store.tickets import attendee_name

_RPC_TIMEOUT = timedelta(seconds=5)


async def start_certificate(temporal: Client, task_queue: str, request: CertificateRequest) -> None:
    """Start the certificate's workflow, or join the one of its id still running: one at a time
    per certificate. Asking again once it has run is harmless (each of its steps finds its work
    done: the certificate's row, the email's ledger entry), so every caller may ask again after
    a failure, and must: a start lost (Temporal down) raises."""
    await temporal.start_workflow(
        CERTIFICATE_WORKFLOW,
        request,
        id=certificate_workflow_id(request),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"certificate · place {request.attendee_index + 1}",
        rpc_timeout=_RPC_TIMEOUT,
    )


class AttendanceActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        task_queue: str,
        webhooks: DeliveryStarter,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._task_queue = task_queue
        self._webhooks = webhooks

    @activity.defn(name="record_attendance")
    async def record(self, booking_id: str) -> AttendanceRecorded:
        """Record the booking's attendance (once), send its no-show events, then start each
        certificate owed (a retry starts none twice)."""
        key = uuid.UUID(booking_id)
        async with self._sessionmaker.begin() as db:
            recorded = await record_attendance(db, key)
        await self._webhooks.nudge_stream(key)
        owed = recorded.attended if recorded.certifying else []
        for index in owed:
            request = CertificateRequest(booking_id, index)
            await start_certificate(self._temporal, self._task_queue, request)
        return AttendanceRecorded(recorded.attended, recorded.no_show, owed)


class CertificateActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], keys: list[str]) -> None:
        self._sessionmaker = sessionmaker
        self._keys = keys  # they sign the verification codes (the ticket signing keys)

    @activity.defn(name="issue_certificate")
    async def issue(self, request: CertificateRequest) -> str | None:
        """The certificate's number, the same however often it runs; None when its place is
        not recorded attended (corrected meanwhile)."""
        async with self._sessionmaker.begin() as db:
            certificate = await issue_certificate(
                db, uuid.UUID(request.booking_id), request.attendee_index, self._keys
            )
            return certificate.number if certificate else None


async def issue_certificate(
    db: AsyncSession, booking_id: uuid.UUID, index: int, keys: list[str]
) -> Certificate | None:
    """The place's certificate: the one issued, else numbered and rendered now (the first
    transaction wins: `one_certificate_per_place`); None for a place not recorded attended
    (corrected to a no-show before its certificate was issued)."""
    existing = await find_certificate(db, booking_id, index)
    if existing is not None:
        return existing
    attended = await db.scalar(
        select(Attendance.attended).where(
            Attendance.booking_id == booking_id, Attendance.attendee_index == index
        )
    )
    if not attended:
        return None
    booking = await db.get_one(Booking, booking_id)
    session = await db.get_one(Session, booking.session_id)
    organisation = await db.get_one(Organisation, session.organisation_id)
    now = await database_now(db)
    certificate = Certificate(
        id=uuid.uuid4(),
        organisation_id=organisation.id,
        booking_id=booking_id,
        attendee_index=index,
        number=await next_certificate_number(db, organisation, now.year),
        attendee_name=attendee_name(booking, index),
        course_title=session.title,
        issued_at=now,
    )
    data = CertificateData(
        number=certificate.number,
        seller_name=organisation.legal_name,
        attendee_name=certificate.attendee_name,
        course_title=session.title,
        session_location=session.location,
        session_starts_at=session.starts_at,
        session_ends_at=session.ends_at,
        session_time_zone=session.time_zone,
        verification_code=certificate_code(certificate.id, keys),
        locale=organisation.locale,
    )
    certificate.pdf = await asyncio.to_thread(render_certificate_pdf, data)
    db.add(certificate)
    await db.flush()
    return certificate
