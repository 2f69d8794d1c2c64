"""Stripe webhooks: verify the signature, record the event, signal the booking, answer at once.

A refund (`charge.refunded`) for a booking whose workflow has ended is recorded all the same:
the booking's refund recorder (workflows/stripe_refunds.py) is started, or told. A refund of an
intent several bookings claim (a partial move's split) is told to each of them: its metadata
says whose it is, and each notes only its own.

Stripe Connect: an event about a connected account's object carries that `account`. It is
acted on only for a booking whose payment was made in that same account, and an event without
`account` only for a booking paid into the platform's own account. Any other is answered 200
(`wrong-account`: recorded, logged, counted in `stripe_events_wrong_account_total`) and changes
nothing, no signal and no state: its signature is valid, so Stripe sent it (or someone holding
the secret did), and a 4xx would only have Stripe send it again for days and at last disable the
endpoint, with the same answer each time. Real Stripe sends connected accounts' events to a
Connect endpoint with a secret of its own: this one endpoint takes both, signed by either
BOOKING_STRIPE_WEBHOOK_SECRET or BOOKING_STRIPE_CONNECT_WEBHOOK_SECRET.

Every answer is 2xx (recorded), 400 (not a Stripe event we can read: Stripe stops) or 503
(Temporal or the database is down: Stripe retries), never 500.
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.dialects.postgresql import insert
from temporalio.service import RPCError, RPCStatusCode

from activities.repairs import record_stripe_refunds
from api.deps import DbDep, SettingsDep, TemporalDep
from api.problems import problem
from core.errors import ServiceUnavailable
from core.settings import Settings
from messages.booking import booking_workflow_id
from messages.payments import PaymentEvent, PaymentEventType
from messages.repairs import RefundsMade
from models.tables import StripeEvent
from schemas.fields import String
from store.booking_records import booking_paid_by, other_claimants
from store.stripe_accounts import account_of_booking
from workflows.booking import BookingWorkflow

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)

CLOSED = "booking-closed"
WRONG_ACCOUNT = "wrong-account"
WRONG_ACCOUNT_EVENTS = Counter(
    "stripe_events_wrong_account",
    "Signed Stripe events refused: their account does not own the booking they name",
)
StripeId = Annotated[String, Field(min_length=1, max_length=255)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class _EventData(_Strict):
    object: dict[str, Any]


class StripeEventIn(_Strict):
    """The envelope of a Stripe event, as far as this endpoint reads it."""

    id: StripeId
    type: Annotated[String, Field(min_length=1, max_length=64)]
    created: Annotated[int, Field(ge=0, le=2**53)] = 0
    # The connected account the event is about (Connect); absent: the platform's own.
    account: StripeId | None = None
    data: _EventData


class _PaymentError(_Strict):
    message: Annotated[String, Field(max_length=1000)] | None = None


class _PaymentObject(_Strict):
    """What a PaymentIntent or Charge event tells about the payment."""

    id: StripeId | None = None
    payment_intent: StripeId | None = None
    metadata: dict[str, String] | None = None
    last_payment_error: _PaymentError | None = None


_EVENT_BODY = {
    "required": True,
    "description": "A Stripe event, as Stripe signs it (Stripe-Signature)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@router.post(
    "/stripe",
    status_code=200,
    response_model=dict[str, str],
    responses={400: {"description": "Not a signed Stripe event this endpoint can read"}},
    openapi_extra={"requestBody": _EVENT_BODY},
)
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
        _verify(payload.decode("utf-8"), stripe_signature or "", settings)
        event = StripeEventIn.model_validate_json(payload)
        payment = _payment_event(event)
    except stripe.SignatureVerificationError as err:
        return problem(400, "bad-signature", "The Stripe-Signature is not valid", str(err))
    except (ValueError, ValidationError) as err:
        return _bad_event(err)

    payment_event, named = payment or (None, None)
    booking_id = await _booking_of(db, payment_event, named) if payment_event else None
    if payment_event is None:
        outcome = "ignored-type"
    elif booking_id is None:
        outcome = "unknown-booking"
    elif (owner := await account_of_booking(db, booking_id)) != event.account:
        outcome = WRONG_ACCOUNT
        WRONG_ACCOUNT_EVENTS.inc()
        log.warning(
            "stripe event %s from account %s refused: booking %s is paid in %s",
            event.id,
            event.account or "the platform's",
            booking_id,
            owner or "the platform's",
        )
    else:
        outcome = await _tell(temporal, settings, booking_id, payment_event)
        if payment_event.type == PaymentEventType.REFUNDED:
            # A refund of a shared intent may be another claimant's (its metadata names it).
            intent = payment_event.payment_intent_id
            for other in await other_claimants(db, intent, booking_id):
                await _tell(temporal, settings, other, payment_event)
    await db.execute(
        insert(StripeEvent)
        .values(
            id=event.id,
            type=event.type,
            payment_intent_id=payment_event.payment_intent_id if payment_event else None,
            booking_id=booking_id,
            outcome=outcome,
            received_at=arrived_at,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    await db.commit()
    return {"received": event.id, "outcome": outcome}


def _verify(payload: str, signature: str, settings: Settings) -> None:
    """Signed with the account endpoint's secret or the Connect endpoint's, if there is one."""
    secrets = [settings.stripe_webhook_secret, settings.stripe_connect_webhook_secret]
    *first, last = [secret for secret in secrets if secret]
    for secret in first:
        try:
            return _verify_with(payload, signature, secret, settings)
        except stripe.SignatureVerificationError:
            pass
    _verify_with(payload, signature, last, settings)  # its error, if any, is the answer


def _verify_with(payload: str, signature: str, secret: str, settings: Settings) -> None:
    stripe.WebhookSignature.verify_header(
        payload, signature, secret, tolerance=settings.stripe_webhook_tolerance_seconds
    )


def _bad_event(err: Exception) -> JSONResponse:
    detail = str(err) if not isinstance(err, ValidationError) else f"{err.error_count()} error(s)"
    errors = []
    if isinstance(err, ValidationError):
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
        ]
    return problem(400, "bad-event", "The body is not a Stripe event", detail, errors=errors)


def _payment_event(event: StripeEventIn) -> tuple[PaymentEvent, str | None] | None:
    """What the event means for a booking, and the booking its intent's metadata names."""
    meaning = PaymentEventType.from_stripe(event.type)
    if meaning is None:
        return None
    obj = _PaymentObject.model_validate(event.data.object)
    intent_id = obj.payment_intent if event.type.startswith("charge.") else obj.id
    if not intent_id:
        return None
    failure = obj.last_payment_error.message if obj.last_payment_error else None
    payment = PaymentEvent(
        event_id=event.id,
        type=meaning,
        payment_intent_id=intent_id,
        created=event.created,
        failure_message=failure,
    )
    return payment, (obj.metadata or {}).get("booking_id")


async def _booking_of(db: DbDep, event: PaymentEvent, named: str | None) -> uuid.UUID | None:
    """The booking named in the PaymentIntent's metadata, else the one holding that intent."""
    if named:
        try:
            return uuid.UUID(named)
        except ValueError:
            pass
    return await booking_paid_by(db, event.payment_intent_id)


async def _tell(
    temporal: TemporalDep, settings: SettingsDep, booking_id: uuid.UUID, event: PaymentEvent
) -> str:
    """Signal the booking's workflow; a refund for one that has ended is recorded by its
    refund recorder instead."""
    outcome = await _signal(temporal, settings.workflow_accept_seconds, booking_id, event)
    if outcome == CLOSED and event.type == PaymentEventType.REFUNDED:
        return await _record_refunds(temporal, settings.task_queue, booking_id)
    return outcome


async def _signal(
    temporal: TemporalDep, within: float, booking_id: uuid.UUID, event: PaymentEvent
) -> str:
    handle = temporal.get_workflow_handle(booking_workflow_id(str(booking_id)))
    try:
        async with asyncio.timeout(within):
            await handle.signal(BookingWorkflow.payment_event, event)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            # Nothing was recorded: Stripe retries on 503.
            raise ServiceUnavailable(f"the booking could not be told: {err.status.name}") from err
        log.warning("stripe event %s for closed or unknown booking %s", event.event_id, booking_id)
        return CLOSED
    except TimeoutError:
        raise ServiceUnavailable("Temporal did not take the event in time") from None
    return "signalled"


async def _record_refunds(temporal: TemporalDep, task_queue: str, booking_id: uuid.UUID) -> str:
    """The booking's workflow has ended: its refund recorder reads Stripe's refunds instead."""
    try:
        await record_stripe_refunds(temporal, task_queue, RefundsMade(str(booking_id)))
    except RPCError as err:
        raise ServiceUnavailable(f"the refund could not be recorded: {err.status.name}") from err
    return "recording-refunds"
