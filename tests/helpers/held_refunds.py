"""A confirmed booking whose refunds at Stripe are held, refused or made behind its back, for
the tests that force its money paths (tests/workflows/test_money_paths.py and
test_session_cancel_races.py)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from temporalio import activity
from temporalio.client import WorkflowUpdateHandle, WorkflowUpdateStage

from activities.payments import PaymentActivities
from core.enums import BookingStatus, RefundSource
from core.errors import PaymentProviderRefused
from core.settings import Settings
from messages.booking import (
    CANCEL_UPDATE_ID,
    SESSION_CANCEL_UPDATE_ID,
    BookingView,
    CancelRequest,
    RefundOrder,
)
from messages.payments import RefundInfo, RefundRequest
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    BookingHandle,
    confirmed,
    handle_of,
    price_session,
    stripe_agrees,
)
from tests.histories import keep_history
from tests.workflows.conftest import OwnWorker
from workflows.booking import BookingWorkflow

HALF_UNTIL_THE_START = [{"days_before": 0, "percent": 50}]
NEVER = list[dict[str, int]]()
# 2 places: the customer's cancel under HALF_UNTIL_THE_START, then the session's, 7,500 each.
HALF_EACH = [(7_500, RefundSource.CUSTOMER_POLICY), (7_500, RefundSource.SESSION_CANCELLED)]
SESSION_CANCEL = CancelRequest("the session is cancelled", session_cancelled=True)
# Long enough to queue an order behind a held refund before the session starts.
STARTS_IN = timedelta(seconds=10)


class Gate:
    """Stripe's refunds held until the test opens the gate (the first `held` of them)."""

    def __init__(self, real: PaymentActivities, held: int = 1) -> None:
        self.entered = asyncio.Event()
        self.open = asyncio.Event()
        self.requests: list[RefundRequest] = []
        self._real, self._held = real, held

        @activity.defn(name="refund_payment")
        async def slow_refund(request: RefundRequest) -> RefundInfo:
            self.requests.append(request)
            if len(self.requests) <= self._held:
                self.entered.set()
                await self.open.wait()
            return await self._real.refund(request)

        self.activity = slow_refund


async def two_places(
    stack: Stack,
    settings: Settings,
    policy: list[dict[str, int]] | None = HALF_UNTIL_THE_START,
    starts_in: timedelta | None = None,
) -> tuple[str, BookingView, BookingHandle]:
    """A confirmed booking of 2 places (15,000) in a session of its own under `policy`: the
    session's id, the booking and its workflow."""
    starts = {"starts_in": starts_in} if starts_in else {}
    session_id = await stack.new_session(capacity=4, **starts)
    if policy is not None:
        await price_session(stack.db, session_id, policy=policy)
    view = await confirmed(stack.temporal, settings, stack.stripe_client, session_id, 2)
    return session_id, view, handle_of(stack.temporal, view.id)


async def entered(gate: Gate, work: Awaitable[BookingView]) -> asyncio.Task[BookingView]:
    """`work` running until its refund waits at the gate."""
    task = asyncio.ensure_future(work)
    await asyncio.wait_for(gate.entered.wait(), 10)
    return task


async def accepted(
    handle: BookingHandle, update: Any, arg: Any, update_id: str
) -> WorkflowUpdateHandle[BookingView]:
    """An update, accepted by the booking (it may queue behind another)."""
    return await handle.start_update(
        update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )


async def session_cancel(handle: BookingHandle) -> WorkflowUpdateHandle[BookingView]:
    """The session's cancellation, as its workflow asks the booking, accepted."""
    return await accepted(handle, BookingWorkflow.cancel, SESSION_CANCEL, SESSION_CANCEL_UPDATE_ID)


async def customer_cancel(handle: BookingHandle) -> BookingView:
    return await handle.execute_update(BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID)


@dataclass
class HeldOrder:
    """A confirmed booking of 2 places whose admin refund of 1,000 is held at Stripe (`Gate`):
    whatever is asked of the booking meanwhile queues behind it."""

    gate: Gate
    view: BookingView
    handle: BookingHandle
    order: asyncio.Task[BookingView]

    async def ask(self, update: Any, arg: Any, update_id: str) -> WorkflowUpdateHandle[BookingView]:
        """Another update, accepted while the refund is held."""
        return await accepted(self.handle, update, arg, update_id)

    async def release(self) -> None:
        """Stripe answers: the held refund is carried out, then what queued behind it."""
        self.gate.open.set()
        await self.order


async def held_order(
    stack: Stack,
    own_worker: OwnWorker,
    policy: list[dict[str, int]] | None = None,
    starts_in: timedelta | None = None,
) -> HeldOrder:
    gate = Gate(PaymentActivities(stack.stripe_client))
    settings = await own_worker(gate.activity)
    _, view, handle = await two_places(stack, settings, policy, starts_in)
    refund = handle.execute_update(BookingWorkflow.refund, RefundOrder(1_000), id="goodwill")
    return HeldOrder(gate, view, handle, await entered(gate, refund))


async def past(starts_at: datetime) -> None:
    """Wait until the session has started (its policy then gives 0), having asked before it."""
    assert datetime.now(UTC) < starts_at, "the machine was too slow to ask before the start"
    await asyncio.sleep((starts_at - datetime.now(UTC)).total_seconds() + 0.5)
    assert datetime.now(UTC) > starts_at


def refusing(
    real: PaymentActivities, refuses: Callable[[RefundRequest], bool], seen: list[RefundRequest]
) -> Callable[[RefundRequest], Awaitable[RefundInfo]]:
    @activity.defn(name="refund_payment")
    async def refund(request: RefundRequest) -> RefundInfo:
        """Stripe refuses these refunds for good (say, the charge is disputed)."""
        seen.append(request)
        if refuses(request):
            raise PaymentProviderRefused("Stripe refused: the charge is disputed")
        return await real.refund(request)

    return refund


async def refund_in_dashboard(
    stripe_client: stripe.StripeClient, view: BookingView, amount: int
) -> None:
    """A refund made in Stripe's dashboard, whose `charge.refunded` has not come (yet)."""
    assert view.payment_intent_id is not None
    await stripe_client.v1.refunds.create_async(
        {"payment_intent": view.payment_intent_id, "amount": amount}
    )


async def refunded_in_full(
    stack: Stack, ended: BookingView, refunds: list[tuple[int, RefundSource]], history: str
) -> None:
    """The booking ended REFUNDED by these refunds (amount, source), Stripe agrees that nothing
    remains, and its history is kept under `history`."""
    assert ended.status == BookingStatus.REFUNDED
    assert sources(ended) == refunds
    await stripe_agrees(stack, ended.id, 0)
    await keep_history(stack.temporal, ended.id, history)


def sources(view: BookingView) -> list[tuple[int, RefundSource]]:
    return [(refund.amount, refund.source) for refund in view.refunds]
