"""The business checks on a booking and its changes: pure functions of the booking's figures and
the moment (no workflow API, no database), so the workflow, the API's schemas and the
activities apply the same rule. A check raises the business error that refuses the change
(`core.errors`); a predicate (`repeats`, `one_way_of_naming_places`) lets the schemas word
their own validation error."""

from datetime import datetime, timedelta

from core.enums import OPEN_STATUSES, BookingStatus
from core.errors import BookingNotCancellable, BookingNotChangeable, InvalidRequest
from core.refund_policy import RefundTier, refund_amount, refund_percent


def check_text(reason: str) -> None:
    """PostgreSQL refuses NUL in text: such a reason could never be recorded."""
    if "\x00" in reason:
        raise InvalidRequest("the reason must not contain the NUL character")


def remaining(paid: int, refunded: int) -> int:
    """What remains paid at Stripe: what was paid less every refund since."""
    return paid - refunded


def check_cancellable(
    status: BookingStatus | None, starts_at: datetime | None, at: datetime
) -> None:
    """A cancel of a booking in `status` (None: still being set up, cancelled as soon as it
    is) whose session starts at `starts_at` (known once its places are held)."""
    if status is not None and status not in OPEN_STATUSES:
        raise BookingNotCancellable.in_status(status)
    if status == BookingStatus.CONFIRMED and starts_at is not None and started(starts_at, at):
        raise BookingNotCancellable("the session has started")


def check_changeable(status: BookingStatus | None, cancel_pending: bool) -> None:
    """An order (a refund, places given back) is taken from a CONFIRMED booking with no cancel
    pending; a queued order is carried out before a cancel that came after it."""
    if status != BookingStatus.CONFIRMED or cancel_pending:
        status = status or BookingStatus.PENDING_PAYMENT
        raise BookingNotChangeable(f"a booking that is {status} cannot be changed")


def check_refund(amount: int, reason: str, refundable: int) -> None:
    """An admin's refund of `amount` against what remains paid (`refundable`)."""
    check_text(reason)
    if not 0 < amount <= refundable:
        raise InvalidRequest(
            f"the amount must be between 1 and {refundable}, what remains paid",
            remaining=refundable,
        )


def one_way_of_naming_places(seat_labels: list[str], count: int | None) -> bool:
    """Places are named by their seats or by a count, never both, never neither."""
    return bool(seat_labels) != bool(count)


def repeats(labels: list[str]) -> bool:
    """Whether a seat is listed twice."""
    return len(set(labels)) != len(labels)


def check_places_to_cancel(
    labels: list[str],
    held: list[str],
    *,
    reason: str,
    seat_labels: list[str],
    count: int,
    starts_at: datetime,
    accepted_at: datetime,
) -> None:
    """An order naming places by `seat_labels` or a `count` (`labels` once resolved against the
    places `held`), accepted at `accepted_at` for a session starting at `starts_at`."""
    check_text(reason)
    if started(starts_at, accepted_at):
        raise BookingNotChangeable("the session has started")
    if not one_way_of_naming_places(seat_labels, count):
        raise InvalidRequest("give either the seats to cancel or a count of places")
    unknown = sorted(set(labels) - set(held))
    if unknown:
        raise InvalidRequest(f"seats not in this booking: {', '.join(unknown)}", seats=unknown)
    if repeats(labels):
        raise InvalidRequest("a seat is listed twice")
    if len(labels) >= len(held):
        raise InvalidRequest("these are all the booking's places: cancel the booking instead")


def check_move_cutoff(starts_at: datetime, cutoff_hours: int | None, at: datetime) -> None:
    """A booking may move away from a session until `cutoff_hours` before its start (None:
    until the start)."""
    if started(starts_at, at):
        raise BookingNotChangeable("the session has started")
    if cutoff_hours is not None and at > starts_at - timedelta(hours=cutoff_hours):
        raise BookingNotChangeable(
            f"a booking moves no later than {cutoff_hours} hour(s) before its session starts",
            move_cutoff_hours=cutoff_hours,
        )


def started(starts_at: datetime, at: datetime) -> bool:
    """Whether the session starting at `starts_at` has started at `at`."""
    return at >= starts_at


def policy_percent(
    policy: list[RefundTier], starts_at: datetime, accepted_at: datetime, *, in_full: bool = False
) -> int:
    """The percent a change gives back: the policy's in force when it was accepted, or 100 for
    the session's cancellation (`in_full`), which outranks any policy."""
    return 100 if in_full else refund_percent(policy, starts_at, accepted_at)


def places_refund(given_back: int, percent: int, refundable: int) -> int:
    """What giving places back refunds: `percent` of their share of what was paid
    (`given_back`), never more than remains paid."""
    return min(refund_amount(given_back, percent), refundable)
