"""What reached the outside world, as the fakes received it: the emails SendGrid accepted and
the webhooks the shop's receiver accepted; what the engine's own ledgers cannot show."""

import asyncio
import time
from collections import Counter
from typing import Any

from tests.chaos.customers import PLACES_REASON, REFUND_REASON
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.webhook_receiver import WebhookReceiver

# One booking at rest as the API shows it, with its refunds (GET .../refunds), oldest first.
Final = tuple[dict[str, Any], list[dict[str, Any]]]
CLOSING_EMAILS = {"EXPIRED": "hold_expired", "CANCELLED": "cancelled", "REFUNDED": "refunded"}
CLOSING_EVENTS = {"EXPIRED": "booking.expired", "CANCELLED": "booking.cancelled"}
LATE_PAYMENT = "late-payment"


def deliveries(sendgrid: FakeSendGrid) -> Counter[str]:
    """How many times SendGrid accepted each notification key. More than once is allowed (at
    least once, with the key for the receiving side to deduplicate) and reported."""
    return Counter(
        r.body.get("custom_args", {}).get("notification_key", "") for r in sendgrid.requests
    )


def required_emails(final: Final, session_cancelled: bool) -> list[set[str]]:
    """I4, at least once: for each email the booking's end requires, the notification keys that
    would do (a cancelled session's email may stand for the cancellation or refund one)."""
    view, refunds = final
    booking_id, status = view["id"], view["status"]
    needed: list[set[str]] = []
    if view["confirmed_at"]:
        needed.append({f"{booking_id}:confirmation"})
    if status in CLOSING_EMAILS:
        kinds = {CLOSING_EMAILS[status], *(["session_cancelled"] if session_cancelled else [])}
        needed.append({f"{booking_id}:{kind}" for kind in kinds})
    # The refund that emptied a REFUNDED booking is told by its closing email.
    closing = refunds[-1]["sequence"] if status == "REFUNDED" and refunds else None
    for refund in refunds:
        if refund["reason"] == LATE_PAYMENT:
            needed.append({f"{booking_id}:late_payment_refunded"})
        elif (
            refund["reason"].startswith((REFUND_REASON, PLACES_REASON))
            and refund["sequence"] != closing
        ):
            needed.append({f"{booking_id}:partly_refunded:{refund['sequence']}"})
    return needed


def missing_emails(
    finals: list[Final], sendgrid: FakeSendGrid, cancelled_sessions: set[str]
) -> list[str]:
    delivered = deliveries(sendgrid)
    return [
        f"I4 email-undelivered {view['id']}: is {view['status']}, SendGrid never got "
        f"{' or '.join(sorted(keys))}"
        for view, refunds in finals
        for keys in required_emails((view, refunds), view["session_id"] in cancelled_sessions)
        if not any(delivered[key] for key in keys)
    ]


def required_events(final: Final) -> Counter[str]:
    """The booking.* events the booking's life must have sent, by type (one per refund)."""
    view, refunds = final
    events: Counter[str] = Counter()
    if view["payment"]["payment_intent_id"] is not None:  # free bookings are never pending
        events["booking.created"] = 1
    if view["confirmed_at"]:
        events["booking.confirmed"] = 1
    if view["status"] in CLOSING_EVENTS:
        events[CLOSING_EVENTS[view["status"]]] = 1
    if refunds:
        events["booking.refunded"] = len(refunds)
    return events


def received_events(receiver: WebhookReceiver, endpoint: str) -> dict[str, Counter[str]]:
    """booking id -> the distinct events (by webhook-id) the receiver accepted, by type."""
    seen: dict[str, dict[str, str]] = {}
    for request in receiver.accepted(endpoint):
        booking = request.body.get("data", {}).get("booking")
        if booking:
            seen.setdefault(booking["id"], {})[request.webhook_id] = request.type
    return {booking_id: Counter(kinds.values()) for booking_id, kinds in seen.items()}


def missing_events(
    finals: list[Final], receiver: WebhookReceiver, endpoint: str
) -> list[tuple[str, str]]:
    received = received_events(receiver, endpoint)
    return [
        (view["id"], f"{kind} x{n - received.get(view['id'], Counter())[kind]}")
        for view, refunds in finals
        for kind, n in required_events((view, refunds)).items()
        if received.get(view["id"], Counter())[kind] < n
    ]


async def undelivered_webhooks(
    finals: list[Final], receiver: WebhookReceiver, endpoint: str, within: float
) -> list[str]:
    """At least once: every booking.* event of every booking reached the shop's receiver
    (waiting up to `within` seconds for the delivery workflows' retries)."""
    deadline = time.monotonic() + within
    missing = missing_events(finals, receiver, endpoint)
    while missing and time.monotonic() < deadline:
        await asyncio.sleep(1)
        missing = missing_events(finals, receiver, endpoint)
    return [
        f"webhook-undelivered {booking_id}: the receiver never accepted {what}"
        for booking_id, what in missing
    ]
