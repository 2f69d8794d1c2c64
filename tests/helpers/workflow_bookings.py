"""Bookings through the workflow itself, the workflow tests' shared steps: start a booking, tell
it Stripe's facts, read it back, wait until it is at rest.

Everything goes through the workflow's public messages (update-with-start and `hold`, the
`payment_event` signal, the `cancel` update, the `view` query) and the database mirror.
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import stripe
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle

from clients.booking_workflows import start_booking_workflow
from core.enums import BookingStatus, DocumentKind, SeatState, SessionStatus
from core.settings import Settings
from devstack.pay import pay
from messages.booking import BookingRequest, BookingView, booking_workflow_id
from messages.payments import PaymentEvent, PaymentEventType, amount_received
from messages.repairs import RepairReport, SafetyNetInput
from models.tables import Booking, BookingRefund, Receipt, Seat, Session
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.helpers.workflow_rest import settled
from tests.histories import HISTORIES, keep_workflow_history
from workflows.booking import BookingWorkflow
from workflows.safety_net import SafetyNetWorkflow

Db = async_sessionmaker[AsyncSession]
BookingHandle = WorkflowHandle[BookingWorkflow, BookingView]

# Short durations around the hold (the hold itself is the session's `hold_seconds`).
QUICK = {
    "hold_extension_seconds": 1,
    "max_hold_extensions": 2,
    "late_payment_window_seconds": 2,
    "payment_grace_seconds": 5,
}


def booking_request(session_id: str, quantity: int = 1) -> BookingRequest:
    booking_id = str(uuid.uuid4())
    return BookingRequest(
        booking_id=booking_id,
        session_id=session_id,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        quantity=quantity,
        request_fingerprint=f"fp-{booking_id}",
    )


async def book(
    temporal: Client, settings: Settings, session_id: str, quantity: int = 1
) -> BookingView:
    """A booking holding its places, as the caller sees it (update-with-start)."""
    view = await start_booking_workflow(temporal, settings, booking_request(session_id, quantity))
    assert view.status == BookingStatus.PENDING_PAYMENT
    return view


def handle_of(temporal: Client, booking_id: str) -> BookingHandle:
    return temporal.get_workflow_handle_for(BookingWorkflow.run, booking_workflow_id(booking_id))


async def view_of(temporal: Client, booking_id: str) -> BookingView:
    view = await handle_of(temporal, booking_id).query(BookingWorkflow.view)
    assert view is not None
    return view


async def wait_for(
    temporal: Client,
    booking_id: str,
    condition: Callable[[BookingView], bool],
    within: float = 10,
) -> BookingView:
    """The workflow's view once `condition` holds; fails after `within` seconds."""
    return await eventually(
        lambda: view_of(temporal, booking_id),
        condition,
        within=within,
        every=0.05,
        what=f"booking {booking_id}'s condition",
    )


async def wait_for_status(
    temporal: Client, booking_id: str, status: BookingStatus, within: float = 10
) -> BookingView:
    return await wait_for(temporal, booking_id, lambda v: v.status == status, within)


async def tell(
    temporal: Client,
    view: BookingView,
    type: PaymentEventType,
    event_id: str | None = None,
    failure_message: str | None = None,
) -> str:
    """Signal a payment event as the webhook endpoint does; returns its event id."""
    assert view.payment_intent_id is not None
    event_id = event_id or f"evt_{uuid.uuid4().hex[:24]}"
    event = PaymentEvent(event_id, type, view.payment_intent_id, int(time.time()), failure_message)
    await handle_of(temporal, view.id).signal(BookingWorkflow.payment_event, event)
    return event_id


async def pay_at_stripe(stripe_client: stripe.StripeClient, view: BookingView) -> None:
    assert view.payment_intent_id is not None
    assert await pay(stripe_client, view.payment_intent_id) == "succeeded"


async def pay_and_tell(
    temporal: Client, stripe_client: stripe.StripeClient, view: BookingView
) -> BookingView:
    """Pay at localstripe, signal `succeeded`, and wait until confirmed with its receipt."""
    await pay_at_stripe(stripe_client, view)
    await tell(temporal, view, PaymentEventType.SUCCEEDED)
    return await wait_for(
        temporal, view.id, lambda v: v.status == BookingStatus.CONFIRMED and bool(v.documents)
    )


async def confirmed(
    temporal: Client,
    settings: Settings,
    stripe_client: stripe.StripeClient,
    session_id: str,
    quantity: int = 1,
) -> BookingView:
    """A booking paid and confirmed with its receipt (`book`, then `pay_and_tell`)."""
    return await pay_and_tell(
        temporal, stripe_client, await book(temporal, settings, session_id, quantity)
    )


async def places_of(db: Db, booking_id: str) -> dict[str, int]:
    """How many places the booking holds and has bought, from the `seats` table."""
    async with db() as s:
        states = await s.scalars(select(Seat.state).where(Seat.booking_id == uuid.UUID(booking_id)))
        return dict(Counter(states))


async def mirror_of(db: Db, booking_id: str) -> Booking:
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None, f"booking {booking_id} has no row"
    return row


async def documents_of(db: Db, booking_id: str) -> dict[str, str]:
    """Kind -> number of the receipts and credit notes issued for the booking."""
    async with db() as s:
        rows = await s.execute(
            select(Receipt.kind, Receipt.number).where(Receipt.booking_id == uuid.UUID(booking_id))
        )
        return {kind: number for kind, number in rows.all()}


async def refunds_of(
    stripe_client: stripe.StripeClient, view: BookingView
) -> list[tuple[Any, ...]]:
    """(amount, our reason or None) of every refund localstripe holds for the booking."""
    assert view.payment_intent_id is not None
    refunds = await stripe_client.v1.refunds.list_async({"payment_intent": view.payment_intent_id})
    return [(r.amount, (r.to_dict().get("metadata") or {}).get("reason")) for r in refunds.data]


async def assert_consistent(db: Db, view: BookingView) -> None:
    """Invariants that hold for every status: places match it, the mirror says the same."""
    n = len(view.seat_labels)
    expected = {
        BookingStatus.PENDING_PAYMENT: {SeatState.HELD: n},
        BookingStatus.CONFIRMED: {SeatState.SOLD: n},
        BookingStatus.COMPLETED: {SeatState.SOLD: n},
    }.get(view.status, {})
    assert await places_of(db, view.id) == expected, view.status
    row = await mirror_of(db, view.id)
    assert (row.status, row.status_reason, row.reference) == (
        view.status,
        view.status_reason,
        view.reference,
    )
    documents = await documents_of(db, view.id)
    assert sorted(documents.values()) == sorted(view.documents)
    if view.reference is not None:
        assert DocumentKind.RECEIPT in documents


async def price_session(
    db: Db,
    session_id: str,
    *,
    discount: tuple[int, int] | None = None,
    policy: list[dict[str, int]] | None = None,
) -> None:
    """Give a session a group discount (min quantity, basis points) and a refund policy."""
    values: dict[str, Any] = {}
    if discount is not None:
        values["discount_min_quantity"], values["discount_basis_points"] = discount
    if policy is not None:
        values["refund_policy"] = policy
    async with db.begin() as s:
        await s.execute(update(Session).where(Session.id == uuid.UUID(session_id)).values(values))


async def session_row_cancelled(db: Db, session_id: str) -> None:
    """What cancelling a session does first: its row says CANCELLED, its bookings not told."""
    async with db.begin() as s:
        await s.execute(
            update(Session)
            .where(Session.id == uuid.UUID(session_id))
            .values(status=SessionStatus.CANCELLED)
        )


Ledger = tuple[int, list[tuple[int, int, str, str]]]


async def ledger_of(db: Db, booking_id: str) -> Ledger:
    """The booking's money as the database holds it: what is refunded, and each refund as
    (sequence, amount, source, Stripe's id)."""
    key = uuid.UUID(booking_id)
    async with db() as s:
        booking = await s.get(Booking, key)
        assert booking is not None
        rows = await s.execute(
            select(
                BookingRefund.sequence,
                BookingRefund.amount,
                BookingRefund.source,
                BookingRefund.stripe_refund_id,
            )
            .where(BookingRefund.booking_id == key)
            .order_by(BookingRefund.sequence)
        )
        return booking.amount_refunded, [(q, a, str(src), ref) for q, a, src, ref in rows.all()]


async def assert_books_match_stripe(
    stripe_client: stripe.StripeClient, db: Db, booking_id: str
) -> int:
    """Paid minus refunded at Stripe is what the booking says remains (its ledger adds up to
    its `amount_refunded`); returns what remains."""
    booking = await mirror_of(db, booking_id)
    assert booking.payment_intent_id is not None
    intent = await stripe_client.v1.payment_intents.retrieve_async(
        booking.payment_intent_id, {"expand": ["latest_charge"]}
    )
    page = await stripe_client.v1.refunds.list_async({"payment_intent": intent.id, "limit": 100})
    at_stripe = amount_received(intent) - sum(r.amount for r in page.data)
    refunded, refunds = await ledger_of(db, booking_id)
    assert sum(amount for _, amount, _, _ in refunds) == refunded
    assert booking.amount_paid is not None
    assert booking.amount_paid - booking.amount_refunded == at_stripe
    return at_stripe


async def stripe_echoes_its_refunds(
    temporal: Client, api_url: str, db: Db, booking_id: str
) -> None:
    """Stripe sends a signed `charge.refunded` for the engine's own refunds too (localstripe
    sends none): deliver one, let the booking read Stripe's refunds back, and check that
    nothing new is recorded."""
    before = await ledger_of(db, booking_id)
    booking = await mirror_of(db, booking_id)
    charge = {
        "id": f"ch_{uuid.uuid4().hex[:14]}",
        "object": "charge",
        "payment_intent": booking.payment_intent_id,
    }
    body, headers = signed_event("charge.refunded", charge)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{api_url}/v1/webhooks/stripe", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    await settled(temporal, booking_id)
    assert await ledger_of(db, booking_id) == before


async def stripe_agrees(stack: Stack, booking_id: str, remaining: int) -> None:
    """Stripe holds `remaining` of the booking's money, as the booking says, and its echo of
    the refunds records nothing new (`assert_books_match_stripe`, `stripe_echoes_its_refunds`)."""
    assert await assert_books_match_stripe(stack.stripe_client, stack.db, booking_id) == remaining
    await stripe_echoes_its_refunds(stack.temporal, stack.api_url, stack.db, booking_id)


async def run_safety_net(
    temporal: Client, settings: Settings, history: str | None = None, **changes: Any
) -> RepairReport:
    """One run on `settings.task_queue`; with `history`, its history is kept under that name."""
    workflow_id = f"safety-net-test-{uuid.uuid4()}"
    input = SafetyNetInput(hold_grace_seconds=300, payment_window_seconds=3600, settle_seconds=0)
    report = await temporal.execute_workflow(
        SafetyNetWorkflow.run,
        replace(input, **changes),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    if history:
        await keep_workflow_history(temporal, workflow_id, HISTORIES / history)
    return report
