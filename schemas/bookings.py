"""A booking's request and answer bodies: create, read, cancel, refund, give places back."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, computed_field, model_validator

from core import booking_rules as rules
from core.enums import BookingStatus, RefundSource
from messages.booking import MAX_PLACES_PER_BOOKING
from schemas.fields import Lines, Reason, SeatLabel, Text
from schemas.questions import (
    MAX_CONSENTS,
    MAX_QUESTIONS,
    AnswerIn,
    AnswerOut,
    ConsentAcceptedOut,
    ConsentGiven,
)


class Customer(BaseModel):
    name: Text
    email: EmailStr


class CustomerOut(BaseModel):
    """As stored: once erased, the address is a placeholder that no email validator accepts."""

    name: str
    email: str


class AttendeeIn(BaseModel):
    name: Text
    email: EmailStr | None = None
    special_requirements: Annotated[Lines, Field(max_length=1000)] | None = None


class PlacesRequest(BaseModel):
    """Places asked for (a number, or named seats), by whom, for whom: a booking's or a
    waiting-list entry's."""

    quantity: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_BOOKING)] | None = None
    seats: Annotated[
        list[SeatLabel],
        Field(max_length=MAX_PLACES_PER_BOOKING),
    ] = []
    customer: Customer
    attendees: Annotated[list[AttendeeIn], Field(max_length=MAX_PLACES_PER_BOOKING)] = []

    @model_validator(mode="after")
    def _places(self) -> "PlacesRequest":
        if self.quantity is None and not self.seats:
            raise ValueError("give a quantity or a list of seats")
        if self.seats and self.quantity is not None and self.quantity != len(self.seats):
            raise ValueError("quantity must equal the number of seats")
        if rules.repeats(self.seats):
            raise ValueError("a seat is listed twice")
        if len(self.attendees) > self.places:
            raise ValueError("more attendees than places")
        return self

    @property
    def places(self) -> int:
        return len(self.seats) or self.quantity or 0


class FormAnswers(BaseModel):
    """Answers to a session's questions and its consents accepted, as a booking gives them."""

    answers: Annotated[list[AnswerIn], Field(max_length=MAX_QUESTIONS * MAX_PLACES_PER_BOOKING)] = (
        Field([], description="Answers to the session's questions (GET .../questions)")
    )
    consents: Annotated[list[ConsentGiven], Field(max_length=MAX_CONSENTS)] = Field(
        [], description="The session's consents accepted, each at its current version"
    )

    @model_validator(mode="after")
    def _consents_once(self) -> "FormAnswers":
        if rules.repeats([c.consent for c in self.consents]):
            raise ValueError("a consent is listed twice")
        return self


class BookingCreate(PlacesRequest, FormAnswers):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "5f0c6c1e-8d2a-4b8e-9a3f-1d2c3b4a5e6f",
                    "quantity": 2,
                    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
                    "attendees": [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}],
                }
            ]
        }
    )

    session_id: uuid.UUID


class Payment(BaseModel):
    """The Stripe PaymentIntent to pay; both ids are null for a free booking (nothing to pay)."""

    provider: Literal["stripe"] = "stripe"
    payment_intent_id: str | None
    client_secret: str | None = None
    stripe_account_id: str | None = Field(
        None,
        description="The organiser's connected Stripe account the intent is in (Stripe.js is "
        "given it as `stripeAccount`); null: the platform's own account",
    )


class MovePaymentOut(BaseModel):
    """The difference a move to a dearer session waits for: pay this PaymentIntent (in the
    booking's Stripe account, `payment.stripe_account_id`) before `expires_at`, or the move is
    abandoned and the booking stays as it is."""

    payment_intent_id: str
    client_secret: str
    amount: int = Field(description="The difference, in minor units")
    session_id: uuid.UUID
    expires_at: datetime


class BookingOut(BaseModel):
    id: uuid.UUID
    status: BookingStatus
    status_reason: str | None = None
    reference: str | None = None
    session_id: uuid.UUID
    seats: list[str]
    quantity: int
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    payment: Payment
    customer: CustomerOut
    attendees: list[AttendeeIn] = []
    answers: list[AnswerOut] = []
    consents: list[ConsentAcceptedOut] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    confirmed_at: datetime | None = None
    amount_paid: int = Field(0, description="What the customer paid, in minor units")
    amount_refunded: int = Field(0, description="Refunded so far, in minor units")
    move_payment: MovePaymentOut | None = Field(
        None,
        description="Only in the answer of a move to a dearer session (202): the difference "
        "to pay before the booking moves",
    )
    split_from: uuid.UUID | None = Field(
        None,
        description="The booking a partial move split this one from (its places and money)",
    )
    split_into: list[uuid.UUID] = Field(
        default_factory=list,
        description="The bookings partial moves split off this one, oldest first (in "
        "GET /v1/bookings/{id} and a partial move's answer; empty in lists)",
    )
    moved_to: uuid.UUID | None = Field(
        None,
        description="Only in the answer of a partial move (200): the new booking the places "
        "moved became, in the session moved to",
    )

    @computed_field(description="What remains paid at Stripe: paid minus refunded")  # type: ignore[prop-decorator]
    @property
    def amount_remaining(self) -> int:
        return rules.remaining(self.amount_paid, self.amount_refunded)


class CancelIn(BaseModel):
    reason: Reason = "cancelled by the customer"


class RefundIn(BaseModel):
    """An organiser's refund of part or all of what remains paid."""

    amount: Annotated[int, Field(ge=1, le=100_000_000, description="In minor units")]
    reason: Annotated[Reason, Field(min_length=1)] = "refunded by the organiser"


class PlacesCancelIn(BaseModel):
    """Some places of a confirmed booking to give back: these seats, or the last `count`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"count": 1, "reason": "one colleague cannot come"}]}
    )
    seats: Annotated[
        list[SeatLabel],
        Field(max_length=MAX_PLACES_PER_BOOKING),
    ] = []
    count: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_BOOKING)] | None = None
    reason: Reason = "places cancelled by the customer"

    @model_validator(mode="after")
    def _one_way(self) -> "PlacesCancelIn":
        if not rules.one_way_of_naming_places(self.seats, self.count):
            raise ValueError("give either seats or a count")
        return self


class MoveIn(BaseModel):
    """The session of the same organisation a confirmed booking moves to: with every place, or
    some (`seats`, or the last `count`: a partial move, which splits them off into a new
    booking there)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"session_id": "5f0c6c1e-8d2a-4b8e-9a3f-1d2c3b4a5e6f"},
                {"session_id": "5f0c6c1e-8d2a-4b8e-9a3f-1d2c3b4a5e6f", "count": 1},
            ]
        }
    )
    session_id: uuid.UUID
    reason: Reason = "moved by the customer"
    seats: Annotated[
        list[SeatLabel],
        Field(
            max_length=MAX_PLACES_PER_BOOKING,
            description="The places that move (none, and no `count`: every place)",
        ),
    ] = []
    count: (
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_PLACES_PER_BOOKING,
                description="How many places move, the booking's last (every place or more: "
                "a whole move)",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_way(self) -> "MoveIn":
        if self.seats and self.count:
            raise ValueError("give either seats or a count")
        if rules.repeats(self.seats):
            raise ValueError("a seat is listed twice")
        return self


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sequence: int
    amount: int
    currency: str
    reason: str
    stripe_refund_id: str
    refunded_at: datetime
    source: RefundSource = Field(description="Who or what made the refund")
    credit_note: str | None = Field(None, description="The credit note's number")
