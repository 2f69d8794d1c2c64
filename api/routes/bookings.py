"""Bookings: start one (a workflow), read it, cancel it."""

import hashlib
import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ClientCaller, DbDep, SettingsDep, TemporalDep
from api.problems import as_booking_error
from api.schemas import AttendeeIn, BookingCreate, BookingOut, CancelIn, Customer, Payment
from core.errors import BookingNotCancellable, IdempotencyKeyReused
from core.settings import Settings
from models import search_attributes as sa
from models.booking import Attendee, BookingRequest, BookingView
from models.booking_records import get_booking
from models.tables import Booking
from workflows.booking import BookingWorkflow, BookingWorkflowInput, CancelRequest, Timings

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

# Booking ids derived from (API key, Idempotency-Key): the same request finds the same workflow.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("1b3f0a52-5a7e-4c39-8f0e-2d9c4b7a6e10")


def workflow_id(booking_id: str) -> str:
    return f"booking-{booking_id}"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def create_booking(
    body: BookingCreate,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BookingOut:
    """Hold places and create the PaymentIntent in one round trip to Temporal."""
    fingerprint = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    booking_id = str(
        uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{caller.api_key}\n{idempotency_key}")
        if idempotency_key
        else uuid.uuid4()
    )
    request = BookingRequest(
        booking_id=booking_id,
        session_id=body.session_id,
        customer_name=body.customer.name,
        customer_email=body.customer.email,
        quantity=body.places,
        seat_labels=body.seats,
        attendees=[Attendee(**a.model_dump()) for a in body.attendees],
        request_fingerprint=fingerprint,
    )
    try:
        view = await start_booking_workflow(temporal, settings, request)
    except WorkflowAlreadyStartedError:
        # The workflow has closed (expired, completed...): answer from the database mirror.
        booking = await get_booking(db, booking_id)
        if booking.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "Idempotency-Key was already used with another body"
            ) from None
        response.status_code = status.HTTP_200_OK
        return booking_out(booking)
    return view_out(view, body)


async def start_booking_workflow(
    temporal: Client, settings: Settings, request: BookingRequest
) -> BookingView:
    """Update-with-start: the workflow begins and answers `hold` in one round trip."""
    start = WithStartWorkflowOperation(
        BookingWorkflow.run,
        BookingWorkflowInput(
            request,
            Timings(
                settings.hold_extension_seconds,
                settings.max_hold_extensions,
                settings.late_payment_window_seconds,
            ),
        ),
        id=workflow_id(request.booking_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A rejected booking's workflow failed: the same key may try again.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.SESSION_ID, request.session_id),
                SearchAttributePair(sa.CUSTOMER_EMAIL, request.customer_email),
            ]
        ),
        static_summary=f"{request.quantity} place(s) for {request.customer_email}",
    )
    try:
        return await temporal.execute_update_with_start_workflow(
            BookingWorkflow.hold, request.request_fingerprint, start_workflow_operation=start
        )
    except WorkflowUpdateFailedError as err:
        raise _business_error(err) from err


@router.get("/{booking_id}", response_model=BookingOut)
async def read_booking(booking_id: str, caller: ClientCaller, db: DbDep) -> BookingOut:
    return booking_out(await get_booking(db, booking_id))


@router.post("/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    booking_id: str,
    caller: ClientCaller,
    temporal: TemporalDep,
    db: DbDep,
    body: CancelIn | None = None,
) -> BookingOut:
    """Cancel before payment (places released) or after it (refunded through Stripe)."""
    booking = await get_booking(db, booking_id)
    handle = temporal.get_workflow_handle(workflow_id(str(booking.id)))
    try:
        await handle.execute_update(
            BookingWorkflow.cancel, CancelRequest((body or CancelIn()).reason)
        )
    except WorkflowUpdateFailedError as err:
        raise _business_error(err) from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise BookingNotCancellable(
            f"a booking that is {booking.status} cannot be cancelled"
        ) from None
    await db.refresh(booking)
    return booking_out(booking)


def _business_error(err: WorkflowUpdateFailedError) -> Exception:
    return as_booking_error(err) or err


def view_out(view: BookingView, body: BookingCreate) -> BookingOut:
    return BookingOut(
        id=view.id,
        status=view.status,
        status_reason=view.status_reason,
        reference=view.reference,
        session_id=view.session_id,
        seats=view.seat_labels,
        quantity=len(view.seat_labels),
        amount_subtotal=view.amount_subtotal,
        discount=view.discount,
        amount_total=view.amount_total,
        currency=view.currency,
        hold_expires_at=view.hold_expires_at,
        payment=Payment(payment_intent_id=view.payment_intent_id, client_secret=view.client_secret),
        customer=body.customer,
        attendees=body.attendees,
        confirmed_at=view.confirmed_at,
    )


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut(
        id=str(booking.id),
        status=booking.status,
        status_reason=booking.status_reason,
        reference=booking.reference,
        session_id=str(booking.session_id),
        seats=booking.seat_labels,
        quantity=booking.quantity,
        amount_subtotal=booking.amount_subtotal,
        discount=booking.discount,
        amount_total=booking.amount_total,
        currency=booking.currency,
        hold_expires_at=booking.hold_expires_at,
        payment=Payment(payment_intent_id=booking.payment_intent_id),
        customer=Customer(name=booking.customer_name, email=booking.customer_email),
        attendees=[AttendeeIn(**a) for a in booking.attendees],
        created_at=booking.created_at,
        updated_at=booking.updated_at,
        confirmed_at=booking.confirmed_at,
    )
