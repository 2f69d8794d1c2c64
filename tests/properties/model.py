"""The property test's model of a few bookings: what was paid, refunded (by the engine, and at
Stripe directly), which places each keeps and whether it is closed; and the sessions they are
on. Pure values and arithmetic: no I/O here.

Rules the model holds the engine to (issue 17):
- a place given back refunds the share of the amount paid that it carried (the kept places are
  never dearer than before), times the session's refund policy percent;
- a customer's cancel refunds the policy percent of what remains paid;
- a session's cancellation refunds every open booking in full, whatever the policy;
- nothing is refunded beyond what was paid, and the books equal Stripe once Stripe has told us;
- a booking's money is its claims on PaymentIntents; a partial move hands part of them over
  to the booking it splits off (newest intent first), and each refunds only from its own.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from core.enums import BookingStatus
from core.pricing import GroupDiscount, quote

Json = dict[str, Any]

CAPACITY = 6
UNIT_PRICE = 7500
DEAR_PRICE = 9000  # a session dearer than the others: moves to it pay the difference
# Tiers far from the sessions' starts (below), so the percent in force never changes mid-test.
POLICY = [{"days_before": 20, "percent": 100}, {"days_before": 5, "percent": 50}]
STARTS_IN_DAYS = {100: 30, 50: 10, 0: 3}
OPEN = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)
CLOSED = (BookingStatus.CANCELLED, BookingStatus.REFUNDED)


class Kind(StrEnum):
    """The prices a session can have."""

    GROUP_30 = "30 % off 3 places or more"
    GROUP_100 = "free for 2 places or more"
    FREE = "free"
    DEAR = "dearer, no discount"


_DISCOUNTS = {
    Kind.GROUP_30: GroupDiscount(min_quantity=3, basis_points=3000),
    Kind.GROUP_100: GroupDiscount(min_quantity=2, basis_points=10_000),
    Kind.FREE: None,
    Kind.DEAR: None,
}
_PRICES = {
    Kind.GROUP_30: UNIT_PRICE,
    Kind.GROUP_100: UNIT_PRICE,
    Kind.FREE: 0,
    Kind.DEAR: DEAR_PRICE,
}

# A session's booking form (`answer_questions`): one answer per booking, one per attendee.
QUESTIONS: Json = {
    "questions": [
        {
            "key": "diet",
            "label": "Lunch",
            "type": "single_choice",
            "options": ["veg", "meat"],
            "required": True,
        },
        {
            "key": "first_aider",
            "label": "First aider?",
            "type": "yes_no",
            "scope": "attendee",
            "required": True,
        },
    ]
}


class Answers(StrEnum):
    """The answers a booking of a session with QUESTIONS gives: valid, or refused (422)."""

    VALID = "valid"
    NOT_AN_OPTION = "an option the question does not have"
    ATTENDEE_MISSING = "the last attendee's answer left out"
    NONE = "no answers"


def answers(quantity: int, given: Answers = Answers.VALID) -> list[Json]:
    if given == Answers.NONE:
        return []
    diet = "fish" if given == Answers.NOT_AN_OPTION else "veg"
    attendees = quantity - 1 if given == Answers.ATTENDEE_MISSING else quantity
    return [
        {"question": "diet", "value": diet},
        *(
            {"question": "first_aider", "attendee": i, "value": i % 2 == 0}
            for i in range(attendees)
        ),
    ]


@dataclass
class SessionModel:
    id: str
    kind: Kind
    percent: int  # the refund policy's percent in force for the whole test
    questions: bool = False  # asks QUESTIONS: every booking answers them
    cancelled: bool = False
    changes: int = 0  # changes of its time so far (the last one's sequence)

    @property
    def unit_price(self) -> int:
        return _PRICES[self.kind]

    def form(self, quantity: int) -> Json:
        """What a booking of `quantity` places adds to its request: the answers it asks."""
        return {"answers": answers(quantity)} if self.questions else {}

    def total(self, quantity: int) -> int:
        return quote(self.unit_price, quantity, _DISCOUNTS[self.kind]).total


def session_body(kind: Kind, percent: int) -> Json:
    """A session created through the API by an admin."""
    starts = (datetime.now(UTC) + timedelta(days=STARTS_IN_DAYS[percent])).replace(microsecond=0)
    discount = _DISCOUNTS[kind]
    return {
        "kind": "course",
        "title": "Money paths",
        "location": "Leeds",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=8)).isoformat(),
        "capacity": CAPACITY,
        "price_amount": _PRICES[kind],
        "currency": "GBP",
        "group_discount": (
            {"min_quantity": discount.min_quantity, "percent": discount.basis_points // 100}
            if discount
            else None
        ),
        "refund_policy": POLICY,
    }


@dataclass
class BookingModel:
    id: str
    session: SessionModel
    status: BookingStatus
    labels: list[str]
    total: int  # what the places kept cost (amount_total)
    intent_id: str | None  # its own PaymentIntent (a booking split off has none)
    # What it claims of each PaymentIntent, oldest first (`booking_payments`): its own, each
    # dearer move's difference, the parts a partial move handed over to it.
    claims: dict[str, int] = field(default_factory=dict)
    recorded: int = 0  # what the booking says was refunded (amount_refunded)
    at_stripe: dict[str, int] = field(default_factory=dict)  # its refunds at Stripe
    refund_intents: dict[str, str] = field(default_factory=dict)  # refund id -> its intent
    unannounced: bool = False  # a refund made at Stripe whose charge.refunded was not sent
    refunded_on: str | None = None  # the intent of the last refund made at Stripe
    opened: list[str] = field(default_factory=list)  # the intents it opened (and paid)
    split_from: str | None = None  # the booking a partial move split it off
    issued: list[str] = field(default_factory=list)  # the places its tickets were issued for
    checked_in: set[tuple[str, int]] = field(default_factory=set)  # (session id, ticket index)
    told: list[int] = field(default_factory=list)  # the session changes told, by sequence
    window_until: datetime | None = None  # its session's last change's accept-or-refund window

    @property
    def intents(self) -> list[str]:
        return list(self.claims)

    @property
    def paid(self) -> int:
        """What it paid: the sum of its claims."""
        return sum(self.claims.values())

    def refunded_on_intent(self, intent_id: str) -> int:
        """Its refunds at Stripe of that intent."""
        return sum(
            amount
            for refund_id, amount in self.at_stripe.items()
            if self.refund_intents.get(refund_id) == intent_id
        )

    def owns(self, booking_id: str | None) -> bool:
        """Whether a refund whose metadata names `booking_id` is its own: one naming none (made
        in Stripe's dashboard) is the intent opener's, never a booking split off's."""
        return booking_id == self.id if booking_id else self.split_from is None

    @property
    def admitted(self) -> list[int]:
        """The indices of its tickets that admit someone (each place issued and still held)."""
        return [i for i, label in enumerate(self.issued) if label in self.labels]

    def cancel_percent(self, session_percent: int) -> int:
        """A customer's cancel inside the accept-or-refund window is refunded in full."""
        in_window = self.window_until is not None and datetime.now(UTC) < self.window_until
        return 100 if in_window else session_percent

    @property
    def stripe_refunded(self) -> int:
        return sum(self.at_stripe.values())

    @property
    def remaining(self) -> int:
        """What remains paid by the booking's books."""
        return self.paid - self.recorded

    @property
    def remaining_at_stripe(self) -> int:
        return self.paid - self.stripe_refunded

    @property
    def state(self) -> tuple[Any, ...]:
        """Everything a step that must change nothing must leave as it was."""
        return (self.status, self.labels, self.total, self.recorded, self.at_stripe)


@dataclass
class EntryModel:
    """A waiting-list entry: its session, how many places it waits for, and where it stands
    as the API tells it after each step (its open offer's places and token)."""

    id: str
    session: SessionModel
    quantity: int
    state: str = "waiting"
    offer: list[str] = field(default_factory=list)
    token: str | None = None


def policy_share(amount: int, percent: int) -> int:
    return amount * percent // 100


def kept_labels(labels: list[str], given_back: list[str]) -> list[str]:
    return [label for label in labels if label not in given_back]
