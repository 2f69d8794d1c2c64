"""A small check of invariants I1, I2 and I4 at rest, across PostgreSQL, localstripe, Temporal
and the fake SendGrid: stands in until ops/consistency.py exists."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from models.booking import BookingView
from tests.fakes.sendgrid_server import FakeSendGrid
from workflows.booking import BookingWorkflow

OWNS_SOLD = {"CONFIRMED", "COMPLETED"}


async def check(
    engine: AsyncEngine, stripe_url: str, temporal: Client, sendgrid: FakeSendGrid
) -> list[str]:
    async with engine.connect() as db:
        bookings = {
            str(row.id): row
            for row in (
                await db.execute(
                    text(
                        "SELECT id, status, quantity, seat_labels, payment_intent_id, reference,"
                        " amount_total, session_id FROM bookings"
                    )
                )
            ).all()
        }
        seats = (
            await db.execute(
                text("SELECT session_id, label, state, booking_id FROM seats WHERE state <> 'free'")
            )
        ).all()
        receipts = Counter(
            str(booking_id)
            for (booking_id,) in await db.execute(
                text("SELECT booking_id FROM receipts WHERE kind = 'receipt'")
            )
        )
        unsent = (
            await db.execute(
                text("SELECT key, status, last_error FROM notifications WHERE status <> 'sent'")
            )
        ).all()
    violations = _places(bookings, seats)
    violations += await _money(bookings, stripe_url)
    violations += _receipts_and_emails(bookings, receipts, unsent, sendgrid)
    violations += await _mirror(bookings, temporal)
    return violations


def _places(bookings: dict[str, Any], seats: Sequence[Any]) -> list[str]:
    """I1: a place is held by a pending booking or sold to a confirmed one, and every confirmed
    booking owns exactly the places it says."""
    violations = []
    owned: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for seat in seats:
        owner = bookings.get(str(seat.booking_id))
        status = owner.status if owner else "missing"
        owned[str(seat.booking_id)].append((seat.label, seat.state))
        expected = "PENDING_PAYMENT" if seat.state == "held" else "CONFIRMED or COMPLETED"
        if (seat.state == "held" and status != "PENDING_PAYMENT") or (
            seat.state == "sold" and status not in OWNS_SOLD
        ):
            violations.append(
                f"I1: seat {seat.label} of session {seat.session_id} is {seat.state} by booking "
                f"{seat.booking_id}, which is {status} (expected {expected})"
            )
    for booking_id, booking in bookings.items():
        if booking.status not in OWNS_SOLD:
            continue
        sold = sorted(label for label, state in owned.get(booking_id, []) if state == "sold")
        if sold != sorted(booking.seat_labels) or len(sold) != booking.quantity:
            violations.append(
                f"I1: booking {booking_id} is {booking.status} for {booking.quantity} place(s) "
                f"{booking.seat_labels} but owns sold places {sold}"
            )
    return violations


async def _money(bookings: dict[str, Any], stripe_url: str) -> list[str]:
    """I2: every succeeded PaymentIntent belongs to one confirmed booking or was refunded."""
    async with httpx.AsyncClient(base_url=stripe_url, auth=("sk_test_localstripe", "")) as http:
        intents = await _list_all(http, "/v1/payment_intents")
        refunds = await _list_all(http, "/v1/refunds")
    refunded: Counter[str] = Counter()
    charge_intent = {
        _id(i.get("latest_charge")): i["id"] for i in intents if i.get("latest_charge")
    }
    for refund in refunds:
        intent = refund.get("payment_intent") or charge_intent.get(refund.get("charge") or "")
        if intent and refund.get("status") == "succeeded":
            refunded[intent] += int(refund["amount"])
    violations = []
    by_id = {i["id"]: i for i in intents}
    for intent in intents:
        if intent["status"] != "succeeded":
            continue
        booking_id = (intent.get("metadata") or {}).get("booking_id", "")
        booking = bookings.get(booking_id)
        owns = booking is not None and booking.payment_intent_id == intent["id"]
        is_refunded = refunded[intent["id"]] >= int(intent["amount"])
        status = booking.status if booking else "missing"
        if refunded[intent["id"]] > int(intent["amount"]):
            violations.append(
                f"I2: {intent['id']} (booking {booking_id}) refunded "
                f"{refunded[intent['id']]} of {intent['amount']}: more than was paid"
            )
        if is_refunded and owns and status in OWNS_SOLD:
            violations.append(
                f"I2: {intent['id']} was refunded but booking {booking_id} is still {status}"
            )
        elif not is_refunded and not (owns and status in OWNS_SOLD):
            violations.append(
                f"I2: {intent['id']} succeeded ({intent['amount']}) for booking {booking_id}, "
                f"which is {status}{'' if owns else ' and names another intent'}; no refund"
            )
    for booking_id, booking in bookings.items():
        if booking.status in OWNS_SOLD:
            intent = by_id.get(booking.payment_intent_id or "")
            if intent is None or intent["status"] != "succeeded":
                state = intent["status"] if intent else "missing"
                violations.append(
                    f"I2: booking {booking_id} is {booking.status} but its PaymentIntent "
                    f"{booking.payment_intent_id} is {state}"
                )
        if booking.status == "REFUNDED" and not refunded[booking.payment_intent_id or ""]:
            violations.append(
                f"I2: booking {booking_id} is REFUNDED but {booking.payment_intent_id} "
                "has no refund at Stripe"
            )
    return violations


def _receipts_and_emails(
    bookings: dict[str, Any], receipts: Counter[str], unsent: Sequence[Any], sendgrid: FakeSendGrid
) -> list[str]:
    """I4: one receipt per confirmed booking; each email sent at least once."""
    violations = []
    for booking_id, booking in bookings.items():
        if booking.status in OWNS_SOLD and receipts[booking_id] != 1:
            violations.append(
                f"I4: booking {booking_id} is {booking.status} with "
                f"{receipts[booking_id]} receipt(s)"
            )
    delivered = deliveries(sendgrid)
    for booking_id, booking in bookings.items():
        if booking.status in OWNS_SOLD and not delivered[f"{booking_id}:confirmation"]:
            violations.append(
                f"I4: booking {booking_id} is {booking.status}, no confirmation email"
            )
    for row in unsent:
        violations.append(f"I4: email {row.key} is {row.status}: {(row.last_error or '')[:160]}")
    return violations


def deliveries(sendgrid: FakeSendGrid) -> Counter[str]:
    """How many times SendGrid accepted each notification key. More than once is allowed (at
    least once, with the key for the receiving side to deduplicate) and reported."""
    return Counter(
        r.body.get("custom_args", {}).get("notification_key", "") for r in sendgrid.requests
    )


async def _mirror(bookings: dict[str, Any], temporal: Client) -> list[str]:
    """The database says what the workflow says, for every booking at rest."""
    violations = []
    for booking_id, booking in bookings.items():
        handle = temporal.get_workflow_handle_for(BookingWorkflow.run, f"booking-{booking_id}")
        try:
            described = await handle.describe()
            if described.status == WorkflowExecutionStatus.RUNNING:
                view = await handle.query(BookingWorkflow.view)
                state = view.status if view else "no view"
            elif described.status == WorkflowExecutionStatus.COMPLETED:
                result: BookingView = await handle.result()
                state = result.status
            else:
                state = f"workflow {described.status.name if described.status else '?'}"
        except (RPCError, WorkflowFailureError) as err:
            state = f"unreadable workflow ({type(err).__name__}: {err})"
        if state != booking.status:
            violations.append(
                f"mirror: booking {booking_id} is {booking.status}, workflow: {state}"
            )
    return violations


async def _list_all(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100}
        if after:
            params["starting_after"] = after
        page = (await http.get(path, params=params)).raise_for_status().json()
        items += page["data"]
        if not page.get("has_more") or not page["data"]:
            return items
        after = page["data"][-1]["id"]


def _id(value: Any) -> str:
    return str(value.get("id")) if isinstance(value, dict) else str(value)
