"""Bookings: start one (a workflow), read it, cancel it."""

import hashlib
import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.booking_workflows import cancel_booking_workflow, start_booking_workflow
from api.deps import ClientCaller, DbDep, SettingsDep, TemporalDep
from api.schemas import AttendeeIn, BookingCreate, BookingOut, CancelIn, Customer, Payment
from core.errors import IdempotencyKeyReused
from models.booking import Attendee, BookingRequest, BookingView, CancelRequest
from models.booking_records import get_booking, get_document
from models.tables import Booking, Receipt

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

# Booking ids derived from (API key, Idempotency-Key): the same request finds the same workflow.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("1b3f0a52-5a7e-4c39-8f0e-2d9c4b7a6e10")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def create_booking(
    body: BookingCreate,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
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
        return booking_out(booking)
    return view_out(view, body)


@router.get("/{booking_id}", response_model=BookingOut)
async def read_booking(booking_id: str, caller: ClientCaller, db: DbDep) -> BookingOut:
    return booking_out(await get_booking(db, booking_id))


@router.get(
    "/{booking_id}/receipt.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def receipt_pdf(booking_id: str, caller: ClientCaller, db: DbDep) -> Response:
    """The receipt, once the booking is confirmed (404 before)."""
    return _pdf(await get_document(db, booking_id, "receipt"))


@router.get(
    "/{booking_id}/credit-note.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def credit_note_pdf(booking_id: str, caller: ClientCaller, db: DbDep) -> Response:
    """The credit note, once a paid booking is refunded (404 before)."""
    return _pdf(await get_document(db, booking_id, "credit_note"))


def _pdf(document: Receipt) -> Response:
    disposition = f'inline; filename="{document.number}.pdf"'
    return Response(
        document.pdf, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


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
    reason = (body or CancelIn()).reason
    await cancel_booking_workflow(temporal, str(booking.id), CancelRequest(reason), booking.status)
    await db.refresh(booking)
    return booking_out(booking)


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
