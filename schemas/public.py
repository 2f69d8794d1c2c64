"""Request and response bodies of the HTTP API, and the constrained types they share."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    computed_field,
    model_validator,
)

from core import booking_rules as rules
from core.enums import BookingStatus, RefundSource, SessionKind, SessionStatus
from messages.booking import MAX_PLACES_PER_BOOKING
from store.catalog import MAX_PLACES_PER_SESSION

# PostgreSQL refuses NUL in text and cannot store a lone surrogate: such a value would make
# every retry of the same write fail, so it is refused here, at the edge, for every string.
STORABLE = r"^[^\x00\ud800-\udfff]*$"


# Text that reaches an email header, a PDF, a CSV or a webhook is one line: no C0 or C1 control
# character (CR and LF would break a header) and no Unicode line or paragraph separator.
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]*$"
# Free text that may hold lines (an attendee's needs): tab, LF and CR are its only controls.
LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*$"


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _printable(pattern: str) -> Callable[[str], str]:
    """A validator refusing the control characters that `pattern` (one of the above) excludes."""
    allowed = re.compile(pattern)

    def check(value: str) -> str:
        if not allowed.fullmatch(value):
            bad = next(c for c in value if not allowed.fullmatch(c))
            raise ValueError(f"must not contain the control character U+{ord(bad):04X}")
        return value

    return check


def _utc(value: datetime) -> datetime:
    """One clock for the database: times at the edges of the calendar must still convert."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


@cache
def _known_zones() -> frozenset[str]:
    # The system's zone files include links that name no place (the machine's own zone).
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def known_zone(value: str) -> str:
    """An IANA time zone name that zoneinfo knows, e.g. "Europe/London"."""
    if value not in _known_zones():
        raise ValueError(f"unknown IANA time zone {value!r}, e.g. Europe/London")
    return value


# The date that starts an ISO 8601 date-time (pydantic would also read "942" as 942 seconds
# after 1970, which the document's `date-time` does not allow).
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _written_out(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time with its zone, e.g. 2026-06-01T09:00:00Z")
    return value


# Every string a caller sends is one of these (tests/api/test_schemas.py checks it).
String = Annotated[str, AfterValidator(storable), Field(json_schema_extra={"pattern": STORABLE})]
Line = Annotated[
    String, AfterValidator(_printable(ONE_LINE)), Field(json_schema_extra={"pattern": ONE_LINE})
]
Lines = Annotated[
    String, AfterValidator(_printable(LINES)), Field(json_schema_extra={"pattern": LINES})
]
Text = Annotated[Line, Field(min_length=1, max_length=200)]
Reason = Annotated[Line, Field(max_length=500)]
SeatLabel = Annotated[Line, Field(min_length=1, max_length=32)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
# A time in a query string: written out with its zone, as the document's `date-time` says.
QueryMoment = Annotated[UtcDatetime, BeforeValidator(_written_out)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])]
Amount = Annotated[int, Field(ge=0, le=100_000_000)]
TimeZone = Annotated[
    String,
    Field(max_length=64, examples=["Europe/London"], description="IANA time zone"),
    AfterValidator(known_zone),
]


class Problem(BaseModel):
    """An error, as RFC 9457 problem+json."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


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


class BookingCreate(BaseModel):
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
    quantity: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_BOOKING)] | None = None
    seats: Annotated[
        list[SeatLabel],
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
        if rules.repeats(self.seats):
            raise ValueError("a seat is listed twice")
        if len(self.attendees) > self.places:
            raise ValueError("more attendees than places")
        return self

    @property
    def places(self) -> int:
        return len(self.seats) or self.quantity or 0


class Payment(BaseModel):
    """The Stripe PaymentIntent to pay; both ids are null for a free booking (nothing to pay)."""

    provider: Literal["stripe"] = "stripe"
    payment_intent_id: str | None
    client_secret: str | None = None


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
    created_at: datetime | None = None
    updated_at: datetime | None = None
    confirmed_at: datetime | None = None
    amount_paid: int = Field(0, description="What the customer paid, in minor units")
    amount_refunded: int = Field(0, description="Refunded so far, in minor units")

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


class GroupDiscountIn(BaseModel):
    min_quantity: Annotated[int, Field(ge=2, le=MAX_PLACES_PER_BOOKING)] = 5
    percent: Annotated[int, Field(ge=0, le=100)] = 10


class RefundTierIn(BaseModel):
    days_before: Annotated[int, Field(ge=0, le=3650)]
    percent: Annotated[int, Field(ge=0, le=100)]


# A cancelling customer gets back `percent` of what remains paid until `days_before` days before
# the start, that moment included; the best tier still open applies; none open: no refund.
RefundPolicy = Annotated[
    list[RefundTierIn],
    Field(
        max_length=10,
        description="Tiers of refund by date; [] refunds nothing. The default refunds in full "
        "until the start.",
    ),
]
DEFAULT_REFUND_POLICY = [RefundTierIn(days_before=0, percent=100)]


def _distinct_tiers(policy: list[RefundTierIn]) -> list[RefundTierIn]:
    days = [tier.days_before for tier in policy]
    if len(set(days)) != len(days):
        raise ValueError("two refund tiers have the same days_before")
    return sorted(policy, key=lambda tier: -tier.days_before)


class SeatRowIn(BaseModel):
    label: Annotated[str, Field(pattern=r"^[A-Z]{1,3}$")]
    seats: Annotated[int, Field(ge=1, le=500)]


class SessionFields(BaseModel):
    """What a session is, as an admin creates it and as everyone reads it back."""

    kind: SessionKind
    title: Text
    location: Text
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    price_amount: Amount
    currency: Currency
    # Where the session happens: receipts, emails and calendar files show its local times.
    time_zone: TimeZone = "UTC"
    hold_seconds: Annotated[int, Field(ge=1, le=86_400)] = 600


class SessionCreate(SessionFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "course",
                    "title": "Emergency First Aid at Work",
                    "location": "Bristol",
                    "starts_at": "2031-03-01T09:00:00Z",
                    "ends_at": "2031-03-01T17:00:00Z",
                    "capacity": 12,
                    "price_amount": 9900,
                    "currency": "GBP",
                    "time_zone": "Europe/London",
                },
                {
                    "kind": "seated",
                    "title": "Gala evening",
                    "location": "Bath",
                    "starts_at": "2031-04-01T19:00:00+01:00",
                    "ends_at": "2031-04-01T23:00:00+01:00",
                    "seat_map": [{"label": "A", "seats": 10}, {"label": "B", "seats": 12}],
                    "price_amount": 4500,
                    "currency": "GBP",
                    "group_discount": None,
                },
            ]
        }
    )

    capacity: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_SESSION)] | None = None
    seat_map: Annotated[list[SeatRowIn], Field(max_length=100)] = []
    group_discount: GroupDiscountIn | None = GroupDiscountIn()
    refund_policy: Annotated[RefundPolicy, AfterValidator(_distinct_tiers)] = DEFAULT_REFUND_POLICY

    @model_validator(mode="after")
    def _shape(self) -> "SessionCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == SessionKind.SEATED and not self.seat_map:
            raise ValueError("a seated session needs a seat_map")
        if self.kind != SessionKind.SEATED and (self.seat_map or self.capacity is None):
            raise ValueError("a course or appointment needs a capacity and no seat_map")
        return self


class AvailabilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    capacity: int
    held: int
    sold: int
    available: int


class SessionOut(SessionFields):
    id: uuid.UUID
    group_discount: GroupDiscountIn | None
    refund_policy: list[RefundTierIn]
    status: SessionStatus
    availability: AvailabilityOut


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class SessionCancellation(BaseModel):
    """Where a session's cancellation stands: its outcome (200) or its progress so far (202)."""

    session: SessionOut
    finished: bool = Field(description="Every open booking has been dealt with")
    total: int = Field(description="Open bookings when sales stopped")
    done: int = Field(description="Bookings dealt with so far, failures included")
    bookings: dict[BookingStatus, int] = Field(description="How many bookings ended in each status")
    failed: dict[str, str] = Field(
        description="Booking id -> why its cancel failed; cancel the session again to retry"
    )


class CustomerIn(BaseModel):
    email: EmailStr


class ErasureOut(BaseModel):
    erased: list[str]  # booking ids whose personal data was erased
    still_open: list[str]  # bookings still being served: not erased
    settling: list[str]  # closed moments ago, last email or webhooks on their way: ask again
    retained: str  # what is kept, and why
