"""A session's request and answer bodies: create (with its seat map, group discount and refund
policy), read, list, cancel."""

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.enums import BookingStatus, SessionKind, SessionStatus, VatTreatment
from messages.booking import MAX_PLACES_PER_BOOKING
from schemas.fields import Amount, Currency, Text, TimeZone, UtcDatetime, absent
from store.catalog import MAX_PLACES_PER_SESSION


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


class SessionBasics(BaseModel):
    """What a session is, but for its currency and time zone (its organisation's by default)."""

    kind: SessionKind
    title: Text
    location: Text
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    price_amount: Amount
    hold_seconds: Annotated[int, Field(ge=1, le=86_400)] = 600
    vat_treatment: VatTreatment = Field(
        default=VatTreatment.ORGANISATION,
        description="The VAT its price includes: the organisation's rate (none if it is not "
        "registered for VAT), a rate of its own (`rate`, with vat_rate_basis_points), or "
        "none (documents print no VAT line)",
    )
    vat_rate_basis_points: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="The session's own rate (2000 is 20 %), only with `rate`"
    )
    move_cutoff_hours: Annotated[int, Field(ge=0, le=8_760)] | None = Field(
        default=None,
        description="The latest a booking may move away to another session: this many hours "
        "before the start (null: until the start)",
    )
    certifying: bool = Field(
        default=False,
        description="Each attendee recorded attended at its end gets a certificate of "
        "attendance (PDF, emailed)",
    )


class SessionFields(SessionBasics):
    """What a session is, as everyone reads it back."""

    currency: Currency
    # Where the session happens: receipts, emails and calendar files show its local times.
    time_zone: TimeZone


class SessionCreate(SessionBasics):
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
                    "vat_treatment": "rate",
                    "vat_rate_basis_points": 0,
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

    # Left out: the organisation's (None here); given, never null.
    currency: Currency = absent("Default: the organisation's default_currency")
    time_zone: TimeZone = absent("Where it happens (IANA); default: the organisation's")
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
        if (self.vat_treatment == VatTreatment.RATE) != (self.vat_rate_basis_points is not None):
            raise ValueError("vat_rate_basis_points is given with vat_treatment 'rate', and only")
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


class AcceptOrRefundIn(BaseModel):
    """A time change's accept-or-refund window: if the start moves by more than
    `min_shift_seconds`, every booking may cancel with a full refund, whatever the refund
    policy, for `window_seconds` from the change."""

    model_config = ConfigDict(extra="forbid")

    window_seconds: Annotated[int, Field(ge=1, le=30 * 86_400)]
    min_shift_seconds: Annotated[int, Field(ge=0, le=3650 * 86_400)] = 0


class SessionUpdate(BaseModel):
    """Only the fields given change. A new time or place is announced to every open booking
    (an email with an updated calendar file, its reminder moved, `booking.updated`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "starts_at": "2031-03-02T10:00:00Z",
                    "ends_at": "2031-03-02T18:00:00Z",
                    "location": "Bath",
                    "accept_or_refund": {"window_seconds": 172800, "min_shift_seconds": 7200},
                },
                {"capacity": 20},
            ]
        },
    )

    title: Text | None = None
    location: Text | None = None
    starts_at: UtcDatetime | None = Field(
        default=None, description="In the future; alone, the end moves with it (same length)"
    )
    ends_at: UtcDatetime | None = None
    capacity: Annotated[int, Field(ge=1, le=MAX_PLACES_PER_SESSION)] | None = Field(
        default=None, description="Never below the places sold, held and offered (409)"
    )
    accept_or_refund: AcceptOrRefundIn | None = None
    certifying: bool | None = Field(
        default=None,
        description="Whether its attended places get certificates at its end; not after the "
        "end (409)",
    )

    @model_validator(mode="after")
    def _shape(self) -> "SessionUpdate":
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.accept_or_refund and self.starts_at is None:
            raise ValueError("accept_or_refund comes with a new starts_at")
        return self


class SessionChangeOut(BaseModel):
    """A change of the session's time or place, being announced to its bookings."""

    sequence: int = Field(description="The session's n-th change: its calendar files' SEQUENCE")
    changes: dict[str, list[str]] = Field(description="Field -> [before, after]")
    refund_in_full_until: UtcDatetime | None = Field(
        description="Until then a customer's cancel is refunded in full, whatever the policy"
    )
    workflow_id: str = Field(description="The workflow that tells every open booking")


class SessionUpdated(BaseModel):
    session: SessionOut
    change: SessionChangeOut | None = Field(
        description="The change announced, if the time or place changed (else null)"
    )
