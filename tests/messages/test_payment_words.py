"""Stripe's words are read in messages/payments.py only; the workflow sees their meaning."""

import pytest

from messages.payments import PaymentEventType, PaymentState, RefundInfo


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("succeeded", True),
        ("pending", True),
        ("failed", False),
        ("canceled", False),
        ("requires_action", False),
        ("", False),
    ],
)
def test_a_refund_counts_while_it_stands(status: str, counts: bool) -> None:
    assert RefundInfo("re_1", status, 500, "GBP").counts is counts


def test_stripe_statuses_and_events_map_to_their_meaning() -> None:
    assert PaymentState.from_stripe("succeeded") == PaymentState.PAID
    assert PaymentState.from_stripe("canceled") == PaymentState.VOID
    assert PaymentState.from_stripe("a_status_stripe_adds_later") == PaymentState.AWAITING
    assert PaymentEventType.from_stripe("charge.refunded") == PaymentEventType.REFUNDED
    assert PaymentEventType.from_stripe("customer.created") is None
