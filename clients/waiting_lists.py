"""A waiting list as the API drives it: its workflow nudged, and an offer accepted by starting
the booking that takes over the offer's places (update-with-start, as POST /v1/bookings)."""

import uuid
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.waiting_list_signals import nudge_waiting_list
from clients.booking_workflows import booking_summary, start_booking_workflow
from clients.idempotency import request_fingerprint
from core.settings import Settings
from documents.receipt_data import format_utc
from messages.booking import Attendee, BookingRequest, BookingView
from models.tables import Session, WaitingListEntry

_ACCEPT_NAMESPACE = uuid.UUID("3c9e7a41-0f6b-4d2e-8a15-7b4c2d9e0f63")


def booking_id_of(entry: WaitingListEntry) -> str:
    """An entry's acceptance always names the same booking: accepting twice is one booking."""
    return str(uuid.uuid5(_ACCEPT_NAMESPACE, str(entry.id)))


def list_summary(session: Session) -> str:
    """The Temporal UI's line for a session's waiting list: nothing personal."""
    return f"waiting list · {session.title} · {format_utc(session.starts_at)}"[:200]


async def nudge(
    temporal: Client, settings: Settings, session_id: str, summary: str | None = None
) -> None:
    """Wake (or start) the session's waiting list; it reads what to do from the database.
    `summary` (`list_summary`) is the UI's line for a run this starts."""
    await nudge_waiting_list(temporal, settings.task_queue, session_id, summary)


@dataclass(frozen=True)
class Acceptance:
    """An offer's booking, as read while the entry was (before the transaction ends)."""

    request: BookingRequest
    summary: str


def acceptance(entry: WaitingListEntry, session: Session) -> Acceptance:
    """The booking that takes over the places held for the entry's offer."""
    request = BookingRequest(
        booking_id=booking_id_of(entry),
        session_id=str(session.id),
        customer_name=entry.customer_name,
        customer_email=entry.customer_email,
        quantity=entry.quantity,
        seat_labels=list(entry.offer_seat_labels),
        attendees=[Attendee(**a) for a in entry.attendees],
        request_fingerprint=request_fingerprint({"waiting_entry_id": str(entry.id)}),
        waiting_entry_id=str(entry.id),
    )
    return Acceptance(request, booking_summary(session, entry.quantity))


async def accept_offer(
    temporal: Client, settings: Settings, accepted: Acceptance, organisation_id: uuid.UUID
) -> BookingView | None:
    """Start the entry's booking with the places held for its offer; None when its workflow
    has already ended (the caller answers from the database mirror)."""
    try:
        return await start_booking_workflow(
            temporal,
            settings,
            accepted.request,
            accepted.summary,
            organisation_id=str(organisation_id),
        )
    except WorkflowAlreadyStartedError:
        return None
