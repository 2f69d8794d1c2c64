"""The checks on a booking's changes, as the workflow, the API and the activities apply them."""

from datetime import UTC, datetime, timedelta

import pytest

from core import booking_rules as rules
from core.enums import BookingStatus
from core.errors import BookingNotCancellable, BookingNotChangeable, InvalidRequest
from core.refund_policy import RefundTier

STARTS = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
BEFORE, AFTER = STARTS - timedelta(seconds=1), STARTS
HELD = ["A1", "A2", "A3"]


def places(labels: list[str], *, seats: list[str] | None = None, count: int = 0) -> None:
    rules.check_places_to_cancel(
        labels,
        HELD,
        reason="changed plans",
        seat_labels=labels if seats is None else seats,
        count=count,
        starts_at=STARTS,
        accepted_at=BEFORE,
    )


def test_a_reason_with_nul_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="NUL"):
        rules.check_text("a\x00b")
    rules.check_text("a b")


def test_a_refund_is_between_one_and_what_remains() -> None:
    rules.check_refund(500, "goodwill", 500)
    for amount in (0, 501):
        with pytest.raises(InvalidRequest) as refused:
            rules.check_refund(amount, "goodwill", 500)
        assert refused.value.extra == {"remaining": 500}


def test_only_a_confirmed_booking_without_a_pending_cancel_takes_orders() -> None:
    rules.check_changeable(BookingStatus.CONFIRMED, cancel_pending=False)
    with pytest.raises(BookingNotChangeable, match="CONFIRMED"):
        rules.check_changeable(BookingStatus.CONFIRMED, cancel_pending=True)
    with pytest.raises(BookingNotChangeable, match="PENDING_PAYMENT"):
        rules.check_changeable(None, cancel_pending=False)


def test_a_cancel_is_taken_while_open_and_before_a_confirmed_bookings_session() -> None:
    rules.check_cancellable(None, None, AFTER)  # still being set up
    rules.check_cancellable(BookingStatus.PENDING_PAYMENT, STARTS, AFTER)
    rules.check_cancellable(BookingStatus.CONFIRMED, STARTS, BEFORE)
    with pytest.raises(BookingNotCancellable, match="started"):
        rules.check_cancellable(BookingStatus.CONFIRMED, STARTS, AFTER)
    with pytest.raises(BookingNotCancellable, match="EXPIRED"):
        rules.check_cancellable(BookingStatus.EXPIRED, STARTS, BEFORE)


def test_places_given_back_are_some_of_the_bookings_each_once() -> None:
    places(["A1", "A2"])
    places(["A3"], seats=[], count=1)
    with pytest.raises(InvalidRequest, match="either"):
        places(["A1"], count=1)
    with pytest.raises(InvalidRequest, match="not in this booking: B9"):
        places(["A1", "B9"])
    with pytest.raises(InvalidRequest, match="twice"):
        places(["A1", "A1"])
    with pytest.raises(InvalidRequest, match="cancel the booking instead"):
        places(HELD)


def test_no_place_is_given_back_once_the_session_started() -> None:
    with pytest.raises(BookingNotChangeable, match="started"):
        rules.check_places_to_cancel(
            ["A1"],
            HELD,
            reason="late",
            seat_labels=["A1"],
            count=0,
            starts_at=STARTS,
            accepted_at=AFTER,
        )


def test_the_session_cancelled_refunds_in_full_whatever_the_policy() -> None:
    policy = [RefundTier(days_before=7, percent=50)]
    assert rules.policy_percent(policy, STARTS, BEFORE) == 0
    assert rules.policy_percent(policy, STARTS, STARTS - timedelta(days=8)) == 50
    assert rules.policy_percent(policy, STARTS, BEFORE, in_full=True) == 100


def test_places_refund_their_share_by_the_policy_never_more_than_remains() -> None:
    assert rules.places_refund(10_000, 50, 20_000) == 5_000
    assert rules.places_refund(10_000, 100, 3_000) == 3_000
    assert rules.remaining(10_000, 2_500) == 7_500
