"""Bodies of `/v1/webhook-endpoints`: endpoints, their deliveries and attempts."""

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field

from core.enums import WebhookDeliveryStatus, WebhookEventType
from schemas.fields import Line


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _subscribable(value: WebhookEventType) -> WebhookEventType:
    if value == WebhookEventType.PING:
        raise ValueError("ping is not subscribed to: POST .../ping sends one")
    return value


WebhookUrl = Annotated[Line, Field(min_length=1, max_length=2000), AfterValidator(_http_url)]
Events = Annotated[
    list[Annotated[WebhookEventType, AfterValidator(_subscribable)]],
    Field(min_length=1, max_length=len(WebhookEventType)),
]
Description = Annotated[Line, Field(max_length=500)]


_INCLUDE_ANSWERS = (
    "Whether bookings in its events carry their answers and consents (personal data: opt in "
    "only where the receiver needs them)"
)


class WebhookEndpointIn(BaseModel):
    url: WebhookUrl
    events: Events
    description: Description | None = None
    enabled: bool = True
    include_answers: bool = Field(False, description=_INCLUDE_ANSWERS)


class WebhookEndpointPatch(BaseModel):
    """Only the fields given change."""

    url: WebhookUrl | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None
    include_answers: bool | None = Field(None, description=_INCLUDE_ANSWERS)


class WebhookEndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[WebhookEventType]
    enabled: bool
    include_answers: bool = Field(description=_INCLUDE_ANSWERS)
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, `whsec_...`): shown only now"
    )


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointOut]


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer")
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str = Field(description="The `webhook-id` header, the same on every attempt")
    event_type: WebhookEventType
    sequence: int = Field(
        description="The event's place among its booking's (or session's, or entry's)"
    )
    status: WebhookDeliveryStatus
    queued_at: datetime
    delivered_at: datetime | None
    attempts: list[AttemptOut]
    payload: dict[str, Any] = Field(
        description="The event as sent: `{type, timestamp, data: {..., sequence}}`. A booking's"
        " `data.booking` is the booking as `GET /v1/bookings/{id}` shows it, less the payment's"
        " `client_secret`: with `amount_paid`, `amount_refunded` and `amount_remaining` (minor"
        " units); a `booking.refunded` adds `data.refund` (`amount`, `total_refunded`,"
        " `currency`); an `attendee.checked_in` adds `data.attendee` (`index`, `name`,"
        " `checked_in_at`); a `waitlist.*` event's `data.entry` is the waiting-list entry as"
        " `GET /v1/waiting-list/{id}` shows it, less its position and accept token"
    )


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
