"""What the booking workflow has been told and not yet acted on: payment events, a cancel, and
orders (an admin's refund, places to cancel, a move), each with the moment it was accepted and
answered once carried out."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.booking import (
        BookingView,
        CancelRequest,
        MoveOrder,
        PlacesCancellation,
        RefundOrder,
    )
    from messages.payments import PaymentEvent

Order = RefundOrder | PlacesCancellation | MoveOrder


@dataclass
class Queued:
    """An order waiting its turn: its update id, and when it was accepted (the refund policy
    in force then applies, however long it waits)."""

    update_id: str
    order: Order
    accepted_at: datetime


class Mailbox:
    """Payment events in arrival order, each Stripe event id once, and at most one cancel."""

    def __init__(self) -> None:
        self._events: list[PaymentEvent] = []
        self._seen_event_ids: set[str] = set()
        self.cancel: CancelRequest | None = None
        self.cancel_accepted_at: datetime | None = None
        self.orders: list[Queued] = []
        self.answers: dict[str, BookingView | ApplicationError] = {}
        # Why each cancel given up was refused, in order (`give_up_cancel`).
        self.cancels_given_up: list[ApplicationError] = []

    def post(self, event: PaymentEvent) -> None:
        """Stripe retries and reorders webhooks: each event id counts once."""
        if event.event_id in self._seen_event_ids:
            return
        self._seen_event_ids.add(event.event_id)
        self._events.append(event)

    @property
    def events_waiting(self) -> bool:
        return bool(self._events)

    def next_event(self) -> PaymentEvent:
        return self._events.pop(0)

    def has_event_for(self, payment_intent_id: str) -> bool:
        return any(event.payment_intent_id == payment_intent_id for event in self._events)

    def take_event_for(self, payment_intent_id: str) -> PaymentEvent | None:
        """The first event about this intent (a dearer move's difference), the others left."""
        for index, event in enumerate(self._events):
            if event.payment_intent_id == payment_intent_id:
                return self._events.pop(index)
        return None

    def accept_cancel(self, request: CancelRequest) -> int:
        """The first cancel is the one carried out, except that the session's cancellation
        outranks a customer's not yet finished: the booking is then refunded in full.

        Returns how many cancels were given up before: the caller's is answered by the next
        one's refusal, if it is given up too."""
        if self.cancel is None:
            self.cancel, self.cancel_accepted_at = request, workflow.now()
        elif request.session_cancelled and not self.cancel.session_cancelled:
            self.cancel = request
        return len(self.cancels_given_up)

    def give_up_cancel(self, refusal: ApplicationError) -> None:
        """The cancel could not be carried out (nothing moved): every caller waiting on it is
        refused, and a later cancel starts afresh."""
        self.cancels_given_up.append(refusal)
        self.cancel = self.cancel_accepted_at = None

    def accept_order(self, update_id: str, order: Order) -> None:
        self.orders.append(Queued(update_id, order, workflow.now()))

    async def wait(
        self,
        deadline: datetime,
        timer: str,
        *,
        cancel_counts: bool,
        woken: Callable[[], bool] = lambda: False,
    ) -> bool:
        """True when a message waits (or `woken` says so); False once `deadline` passes with
        none.

        `timer` names the deadline in the event history; `cancel_counts` is False once the
        booking has closed: a cancel or an order is then nothing to do.
        """

        def has_message() -> bool:
            return (
                bool(self._events)
                or (cancel_counts and (self.cancel is not None or bool(self.orders)))
                or woken()
            )

        remaining = (deadline - workflow.now()).total_seconds()
        if not has_message() and remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(has_message, timeout=remaining, timeout_summary=timer)
        return has_message()
