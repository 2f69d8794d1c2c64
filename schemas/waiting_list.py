"""A waiting list's request and answer bodies: join, an entry and its offer, the organiser's
list and its status, answering an offer."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.enums import WaitingEntryState, WaitingListStatus
from schemas.bookings import AttendeeIn, CustomerOut, FormAnswers, PlacesRequest


class WaitingListJoin(PlacesRequest):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "quantity": 2,
                    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
                }
            ]
        }
    )


class OfferOut(BaseModel):
    """The places held for the entry until `expires_at`; `token` accepts or declines them."""

    seats: list[str]
    expires_at: datetime
    token: str | None = Field(None, description="Only on the entry's own read")


class WaitingEntryOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    state: WaitingEntryState
    position: int | None = Field(
        description="1 for the first entry still waiting or offered; null once it has left"
    )
    quantity: int
    seats: list[str] = Field(description="Named seats asked for; empty for any places")
    customer: CustomerOut
    attendees: list[AttendeeIn] = []
    skipped: int = Field(description="How often a later entry was offered places first")
    offer: OfferOut | None = None
    booking_id: uuid.UUID | None = Field(None, description="The booking its acceptance made")
    created_at: datetime


class WaitingListOut(BaseModel):
    session_id: uuid.UUID
    status: WaitingListStatus
    offer_seconds: int
    entries: list[WaitingEntryOut]


class WaitingListUpdate(BaseModel):
    status: WaitingListStatus | None = None
    offer_seconds: Annotated[int, Field(ge=1, le=604800)] | None = Field(
        None, description="How long an offer stands (never past the session's start)"
    )


class OfferAnswer(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=128)]


class OfferAcceptance(FormAnswers, OfferAnswer):
    """An offer accepted: its token, and the answers and consents the session asks of a
    booking (`GET /v1/sessions/{id}/questions`), checked as `POST /v1/bookings` checks them."""
