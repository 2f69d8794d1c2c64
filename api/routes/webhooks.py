"""Stripe webhooks: verify the signature, record the event, signal the booking, answer at once."""

import logging
import uuid
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Header, Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from temporalio.service import RPCError, RPCStatusCode

from api.deps import DbDep, SettingsDep, TemporalDep
from api.problems import problem
from models.booking import PaymentEvent
from models.tables import Booking, StripeEvent
from workflows.booking import BookingWorkflow

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)

HANDLED = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "charge.refunded",
}


@router.post("/stripe", status_code=200, response_model=dict[str, str])
async def stripe_webhook(
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    db: DbDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> Any:
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload,
            stripe_signature,
            settings.stripe_webhook_secret,
            tolerance=settings.stripe_webhook_tolerance_seconds,
        )
    except (ValueError, stripe.SignatureVerificationError) as err:
        return problem(400, "bad-signature", "The Stripe-Signature is not valid", str(err))

    payment_event = _payment_event(event)
    booking_id = await _booking_of(db, event) if payment_event else None
    if payment_event is None:
        outcome = "ignored-type"
    elif booking_id is None:
        outcome = "unknown-booking"
    else:
        outcome = await _signal(temporal, booking_id, payment_event)
    await db.execute(
        insert(StripeEvent)
        .values(
            id=event.id,
            type=event.type,
            payment_intent_id=payment_event.payment_intent_id if payment_event else None,
            booking_id=booking_id,
            outcome=outcome,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    await db.commit()
    return {"received": event.id, "outcome": outcome}


def _payment_event(event: Any) -> PaymentEvent | None:
    if event.type not in HANDLED:
        return None
    obj = event.data.object
    intent_id = obj.get("payment_intent") if event.type.startswith("charge.") else obj.get("id")
    if not intent_id:
        return None
    error = obj.get("last_payment_error") or {}
    return PaymentEvent(
        event_id=event.id,
        type=event.type,
        payment_intent_id=intent_id,
        created=event.created,
        failure_message=error.get("message"),
    )


async def _booking_of(db: DbDep, event: Any) -> uuid.UUID | None:
    """The booking named in the PaymentIntent's metadata, else the one holding that intent."""
    obj = event.data.object
    named = (obj.get("metadata") or {}).get("booking_id")
    if named:
        try:
            return uuid.UUID(named)
        except ValueError:
            pass
    intent_id = obj.get("payment_intent") or obj.get("id")
    return await db.scalar(select(Booking.id).where(Booking.payment_intent_id == intent_id))


async def _signal(temporal: TemporalDep, booking_id: uuid.UUID, event: PaymentEvent) -> str:
    handle = temporal.get_workflow_handle(f"booking-{booking_id}")
    try:
        await handle.signal(BookingWorkflow.payment_event, event)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise  # Stripe will retry: nothing was recorded.
        log.warning("stripe event %s for closed or unknown booking %s", event.event_id, booking_id)
        return "booking-closed"
    return "signalled"
