"""The outbox: events written in the transaction that makes the change they report.

`publish_booking_event` is the one call for any activity that changes a booking; it must run
inside that activity's transaction, after the booking row is locked or updated (the lock
orders the booking's events). Run twice (an activity retried), it writes nothing new.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import BookingStatus, WebhookEventType
from models.tables import Booking, Session, WebhookDelivery, WebhookEndpoint, WebhookEvent
from store.booking_records import public_booking
from store.sequences import database_now

_EVENT_IDS = uuid.UUID("6f1d3c1e-5b7a-4c2e-9d8f-0a1b2c3d4e5f")

# The booking statuses that are events, when a transition reaches them. A refund is an event
# of its own, written with the refund (activities/refunds.py), whatever status follows it.
STATUS_EVENTS = {
    BookingStatus.PENDING_PAYMENT: WebhookEventType.BOOKING_CREATED,
    BookingStatus.CONFIRMED: WebhookEventType.BOOKING_CONFIRMED,
    BookingStatus.EXPIRED: WebhookEventType.BOOKING_EXPIRED,
    BookingStatus.CANCELLED: WebhookEventType.BOOKING_CANCELLED,
}


@dataclass
class RefundFigures:
    """What a `booking.refunded` event says about money, in minor units of the booking."""

    amount: int  # this refund
    total_refunded: int  # every refund of the booking so far, this one included


async def publish_booking_event(
    db: AsyncSession,
    booking_id: uuid.UUID,
    event_type: WebhookEventType,
    *,
    dedup_key: str | None = None,
    refund: RefundFigures | None = None,
    attendee: dict[str, Any] | None = None,
) -> str | None:
    """Record the event for every subscribed enabled endpoint; its id (the `webhook-id`).

    `dedup_key` names the occurrence (default: the event type, so each happens once per
    booking); give each partial refund its own, e.g. `refund-<stripe refund id>`.
    """
    # One query decides, so a booking nobody listens to costs no more.
    owner = (
        select(Session.organisation_id)
        .join(Booking, Booking.session_id == Session.id)
        .where(Booking.id == booking_id)
        .scalar_subquery()
    )
    endpoint_ids = await subscribed(db, owner, event_type)
    if not endpoint_ids:
        return None
    booking = await db.get(Booking, booking_id, populate_existing=True)
    session = await db.get(Session, booking.session_id) if booking else None
    assert booking is not None and session is not None
    data: dict[str, Any] = {"booking": booking_data(booking)}
    if event_type == WebhookEventType.BOOKING_REFUNDED:
        assert refund is not None, "a refund event tells its amounts"
        data["refund"] = {
            "amount": refund.amount,
            "total_refunded": refund.total_refunded,
            "currency": booking.currency,
        }
    if attendee is not None:  # an attendee's event: which place, who, when
        data["attendee"] = attendee
    key = dedup_key or event_type
    return await publish(
        db, event_type, session.organisation_id, booking.id, data, key, endpoint_ids
    )


async def publish_session_cancelled(db: AsyncSession, session: Session) -> str | None:
    """The session's one `session.cancelled` event (the caller holds the session row)."""
    return await _publish_session_event(db, session, WebhookEventType.SESSION_CANCELLED, "once")


async def publish_session_updated(
    db: AsyncSession, session: Session, dedup_key: str, changes: dict[str, list[str]]
) -> str | None:
    """A `session.updated` event, once per `dedup_key` (the caller holds the session row), with
    what changed (field -> [before, after]) when its time or place did."""
    return await _publish_session_event(
        db, session, WebhookEventType.SESSION_UPDATED, dedup_key, {"changes": changes}
    )


async def _publish_session_event(
    db: AsyncSession,
    session: Session,
    event_type: WebhookEventType,
    dedup_key: str,
    extra: dict[str, Any] | None = None,
) -> str | None:
    endpoint_ids = await subscribed(db, session.organisation_id, event_type)
    if not endpoint_ids:
        return None
    data = {"session": session_data(session), **(extra or {})}
    return await publish(
        db, event_type, session.organisation_id, session.id, data, dedup_key, endpoint_ids
    )


async def subscribed(
    db: AsyncSession, organisation: Any, event_type: WebhookEventType
) -> list[uuid.UUID]:
    """The organisation's enabled endpoints subscribed to the event type."""
    return list(
        await db.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.organisation_id == organisation,
                WebhookEndpoint.enabled,
                WebhookEndpoint.event_types.contains([event_type.value]),
            )
        )
    )


async def publish(
    db: AsyncSession,
    event_type: WebhookEventType,
    organisation_id: uuid.UUID,
    stream_id: uuid.UUID,
    data: dict[str, Any],
    dedup_key: str,
    endpoint_ids: list[uuid.UUID],
) -> str:
    """Write the event and one pending delivery per endpoint named; the event's id (the
    `webhook-id`). Once per (stream, key): a second call writes nothing and returns the id.
    The caller holds the stream's row (booking, session), which orders its events."""
    event_id = f"msg_{uuid.uuid5(_EVENT_IDS, f'{stream_id}/{dedup_key}').hex}"
    sequence = await db.scalar(
        select(func.coalesce(func.max(WebhookEvent.sequence), 0) + 1).where(
            WebhookEvent.stream_id == stream_id
        )
    )
    now = await database_now(db)
    payload = {
        "type": event_type.value,
        "timestamp": now.isoformat(),
        "data": {**data, "sequence": sequence},
    }
    written = await db.scalar(
        insert(WebhookEvent)
        .values(
            id=event_id,
            organisation_id=organisation_id,
            stream_id=stream_id,
            sequence=sequence,
            type=event_type.value,
            dedup_key=dedup_key,
            payload=payload,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="webhook_event_once")
        .returning(WebhookEvent.id)
    )
    if written is None:
        return event_id  # an earlier attempt wrote it, with its deliveries
    await db.execute(
        insert(WebhookDelivery).values(
            [
                {"id": uuid.uuid4(), "event_id": event_id, "endpoint_id": e, "queued_at": now}
                for e in endpoint_ids
            ]
        )
    )
    return event_id


# What a booking's event holds of its answers and consents: sent only to endpoints that opted in.
ANSWER_FIELDS = ("answers", "consents")


def payload_for(payload: dict[str, Any], include_answers: bool) -> dict[str, Any]:
    """The event as one endpoint gets it: without the booking's answers and consents unless
    the endpoint opted in (`webhook_endpoints.include_answers`)."""
    booking = payload.get("data", {}).get("booking")
    if include_answers or not isinstance(booking, dict):
        return payload
    kept = {key: value for key, value in booking.items() if key not in ANSWER_FIELDS}
    return {**payload, "data": {**payload["data"], "booking": kept}}


def booking_data(booking: Booking) -> dict[str, Any]:
    """The booking as `GET /v1/bookings/{id}` shows it, less the payment's client secret."""
    return {
        key: _iso(value) if isinstance(value, datetime) else value
        for key, value in public_booking(booking).items()
    }


def session_data(session: Session) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "kind": session.kind,
        "title": session.title,
        "location": session.location,
        "starts_at": _iso(session.starts_at),
        "ends_at": _iso(session.ends_at),
        "status": session.status,
        "capacity": session.capacity,
    }


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()
