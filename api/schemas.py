"""Request and response bodies of the HTTP API."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, model_validator

from models.booking import MAX_PLACES_PER_BOOKING


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required (e.g. 2026-12-01T09:00:00Z)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_utc)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Customer(BaseModel):
    name: Text
    email: EmailStr


class AttendeeIn(BaseModel):
    name: Text
    email: EmailStr | None = None
    special_requirements: Annotated[str, Field(max_length=1000)] | None = None


class BookingCreate(BaseModel):
    session_id: str
    quantity: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_BOOKING)] | None = None
    seats: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]],
        Field(max_length=MAX_PLACES_PER_BOOKING),
    ] = []
    customer: Customer
    attendees: Annotated[list[AttendeeIn], Field(max_length=MAX_PLACES_PER_BOOKING)] = []

    @model_validator(mode="after")
    def _places(self) -> "BookingCreate":
        if self.quantity is None and not self.seats:
            raise ValueError("give a quantity or a list of seats")
        if self.seats and self.quantity is not None and self.quantity != len(self.seats):
            raise ValueError("quantity must equal the number of seats")
        if len(set(self.seats)) != len(self.seats):
            raise ValueError("a seat is listed twice")
        if len(self.attendees) > self.places:
            raise ValueError("more attendees than places")
        return self

    @property
    def places(self) -> int:
        return len(self.seats) or self.quantity or 0


class Payment(BaseModel):
    provider: Literal["stripe"] = "stripe"
    payment_intent_id: str | None
    client_secret: str | None = None


class BookingOut(BaseModel):
    id: str
    status: str
    status_reason: str | None = None
    reference: str | None = None
    session_id: str
    seats: list[str]
    quantity: int
    amount_subtotal: int
    discount: int
    amount_total: int
    currency: str
    hold_expires_at: datetime
    payment: Payment
    customer: Customer | None = None
    attendees: list[AttendeeIn] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    confirmed_at: datetime | None = None


class CancelIn(BaseModel):
    reason: Annotated[str, Field(max_length=500)] = "cancelled by the customer"


class GroupDiscountIn(BaseModel):
    min_quantity: Annotated[int, Field(ge=2, le=MAX_PLACES_PER_BOOKING)] = 5
    percent: Annotated[int, Field(ge=0, le=100)] = 10


class SeatRowIn(BaseModel):
    label: Annotated[str, Field(pattern=r"^[A-Z]{1,3}$")]
    seats: Annotated[int, Field(ge=1, le=500)]


class SessionCreate(BaseModel):
    kind: Literal["course", "seated", "appointment"]
    title: Text
    location: Text
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None
    seat_map: Annotated[list[SeatRowIn], Field(max_length=100)] = []
    price_amount: Annotated[int, Field(ge=0, le=100_000_000)]
    currency: Currency
    hold_seconds: Annotated[int, Field(ge=1, le=86_400)] = 600
    group_discount: GroupDiscountIn | None = GroupDiscountIn()

    @model_validator(mode="after")
    def _shape(self) -> "SessionCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == "seated" and not self.seat_map:
            raise ValueError("a seated session needs a seat_map")
        if self.kind != "seated" and (self.seat_map or self.capacity is None):
            raise ValueError("a course or appointment needs a capacity and no seat_map")
        return self


class AvailabilityOut(BaseModel):
    capacity: int
    held: int
    sold: int
    available: int


class SessionOut(BaseModel):
    id: str
    kind: str
    title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    price_amount: int
    currency: str
    hold_seconds: int
    group_discount: GroupDiscountIn | None
    status: str
    availability: AvailabilityOut


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class SessionCancellation(BaseModel):
    session: SessionOut
    # Resulting booking status -> how many bookings ended so.
    bookings: dict[str, int]
