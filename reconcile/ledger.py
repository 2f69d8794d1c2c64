"""What Stripe holds: every PaymentIntent and each refund of it, read in pages.

Two paginated lists (intents, refunds) instead of one call per intent. localstripe refuses
the `created` filter (400 for intents, 500 for refunds): a window is then applied here.
"""

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import stripe

from messages.payments import PaymentState, amount_received
from reconcile.progress import Progress, tell

_PAGE = 100
# Refunds in these states give (or will give) the money back.
_REFUND_COUNTS = {"succeeded", "pending", "requires_action"}


@dataclass(frozen=True)
class Intent:
    id: str
    status: PaymentState
    booking_id: str | None  # metadata.booking_id
    amount: int
    amount_received: int
    currency: str  # upper case, as the bookings table
    created: int  # epoch seconds


@dataclass
class Ledger:
    intents: dict[str, Intent] = field(default_factory=dict)
    # PaymentIntent id -> amount refunded
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # PaymentIntent id -> {refund id: amount}, the refunds that count (as in `refunded`)
    refund_amounts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    refunds: int = 0

    def paid(self) -> list[Intent]:
        return [i for i in self.intents.values() if i.status == PaymentState.PAID]

    def refunds_of(self, intent_id: str | None) -> dict[str, int]:
        """The refunds of one intent that give money back: {refund id: amount}."""
        return self.refund_amounts.get(intent_id or "", {})


async def load_ledger(
    client: stripe.StripeClient,
    *,
    created_since: int | None = None,
    progress: Progress | None = None,
) -> Ledger:
    """Every PaymentIntent (created since `created_since`, epoch seconds) and its refunds."""
    ledger = Ledger()
    charge_intent: dict[str, str] = {}
    async for raw in _list(client.v1.payment_intents, created_since):
        intent = _intent(raw)
        ledger.intents[intent.id] = intent
        charge = _id_of(getattr(raw, "latest_charge", None))
        if charge:
            charge_intent[charge] = intent.id
        tell(progress, "stripe payments", len(ledger.intents), None)
    async for refund in _list(client.v1.refunds, created_since):
        intent_id = _id_of(getattr(refund, "payment_intent", None)) or charge_intent.get(
            _id_of(getattr(refund, "charge", None)) or ""
        )
        ledger.refunds += 1
        if intent_id and getattr(refund, "status", None) in _REFUND_COUNTS:
            ledger.refunded[intent_id] += int(refund.amount)
            ledger.refund_amounts[intent_id][refund.id] = int(refund.amount)
        tell(progress, "stripe refunds", ledger.refunds, None)
    return ledger


async def _list(service: Any, created_since: int | None) -> AsyncIterator[Any]:
    params: dict[str, Any] = {"limit": _PAGE}
    page = None
    if created_since is not None:
        try:
            page = await service.list_async({**params, "created": {"gte": created_since}})
        except (stripe.InvalidRequestError, stripe.APIError):
            page = None  # localstripe: 400 "Unexpected created" (intents), 500 (refunds)
    if page is None:
        page = await service.list_async(params)
    async for item in page.auto_paging_iter():
        if created_since is None or int(item.created) >= created_since:
            yield item


def _intent(raw: Any) -> Intent:
    metadata = raw.to_dict().get("metadata") or {}
    return Intent(
        id=raw.id,
        status=PaymentState.from_stripe(raw.status),
        booking_id=metadata.get("booking_id"),
        amount=int(raw.amount),
        amount_received=amount_received(raw),
        currency=str(raw.currency).upper(),
        created=int(raw.created),
    )


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, or the object itself."""
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "id", "")) or None
