"""Stripe webhooks: verify the signature, record the event, signal the booking, answer at once."""

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Header, Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from temporalio.service import RPCError, RPCStatusCode

from api.booking_workflows import workflow_id
from api.deps import DbDep, SettingsDep, TemporalDep
from api.problems import problem
from models.payments import PaymentEvent, PaymentEventType
from models.tables import Booking, StripeEvent
from workflows.booking import BookingWorkflow

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)


@router.post("/stripe", status_code=200, response_model=dict[str, str])
async def stripe_webhook(
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    db: DbDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> Any:
    arrived_at = datetime.now(UTC)  # "webhook in", for the webhook -> CONFIRMED budget
    payload = await request.body()
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            stripe_signature or "",
            settings.stripe_webhook_secret,
            tolerance=settings.stripe_webhook_tolerance_seconds,
        )
        event = json.loads(payload)
        event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
    except stripe.SignatureVerificationError as err:
        return problem(400, "bad-signature", "The Stripe-Signature is not valid", str(err))
    except (ValueError, KeyError, TypeError) as err:
        return problem(400, "bad-event", "The body is not a Stripe event", repr(err))

    payment_event = _payment_event(event_id, event_type, event.get("created", 0), obj)
    booking_id = await _booking_of(db, obj) if payment_event else None
    if payment_event is None:
        outcome = "ignored-type"
    elif booking_id is None:
        outcome = "unknown-booking"
    else:
        outcome = await _signal(temporal, booking_id, payment_event)
    await db.execute(
        insert(StripeEvent)
        .values(
            id=event_id,
            type=event_type,
            payment_intent_id=payment_event.payment_intent_id if payment_event else None,
            booking_id=booking_id,
            outcome=outcome,
            received_at=arrived_at,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    await db.commit()
    return {"received": event_id, "outcome": outcome}


def _payment_event(
    event_id: str, event_type: str, created: int, obj: dict[str, Any]
) -> PaymentEvent | None:
    meaning = PaymentEventType.from_stripe(event_type)
    if meaning is None:
        return None
    intent_id = obj.get("payment_intent") if event_type.startswith("charge.") else obj.get("id")
    if not intent_id:
        return None
    error = obj.get("last_payment_error") or {}
    return PaymentEvent(
        event_id=event_id,
        type=meaning,
        payment_intent_id=intent_id,
        created=created,
        failure_message=error.get("message"),
    )


async def _booking_of(db: DbDep, obj: dict[str, Any]) -> uuid.UUID | None:
    """The booking named in the PaymentIntent's metadata, else the one holding that intent."""
    named = (obj.get("metadata") or {}).get("booking_id")
    if named:
        try:
            return uuid.UUID(named)
        except ValueError:
            pass
    intent_id = obj.get("payment_intent") or obj.get("id")
    return await db.scalar(select(Booking.id).where(Booking.payment_intent_id == intent_id))


async def _signal(temporal: TemporalDep, booking_id: uuid.UUID, event: PaymentEvent) -> str:
    handle = temporal.get_workflow_handle(workflow_id(str(booking_id)))
    try:
        await handle.signal(BookingWorkflow.payment_event, event)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise  # Stripe will retry: nothing was recorded.
        log.warning("stripe event %s for closed or unknown booking %s", event.event_id, booking_id)
        return "booking-closed"
    return "signalled"
