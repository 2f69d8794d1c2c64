"""What Stripe holds: every PaymentIntent and each refund of it, read in pages, in the
platform's account and in each connected account a payment of ours may be in (Stripe Connect
direct charges live in the organisation's account, where the platform's listing never shows
them).

Two paginated lists (intents, refunds) per account instead of one call per intent. localstripe
refuses the `created` filter (400 for intents, 500 for refunds): a window is then applied here.
"""

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import RefundSource
from messages.payments import PaymentState, amount_received
from messages.repairs import refund_is_of
from reconcile.progress import Progress, tell
from store.stripe_accounts import connected_accounts

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
    account: str | None = None  # the connected account it is in; None: the platform's


@dataclass
class Ledger:
    intents: dict[str, Intent] = field(default_factory=dict)
    # PaymentIntent id -> amount refunded
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # PaymentIntent id -> {refund id: amount}, the refunds that count (as in `refunded`)
    refund_amounts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    # refund id -> the booking its metadata names (None: made without ours)
    refund_named: dict[str, str | None] = field(default_factory=dict)
    # Refunds of late money (metadata reason `late-payment`): of money no booking held, even
    # when they name the booking they are recorded on (the safety net's name the opener).
    late_refunds: set[str] = field(default_factory=set)
    refunds: int = 0
    # Only intents created since then (epoch seconds) were read; None: all of them.
    since: int | None = None

    def paid(self) -> list[Intent]:
        return [i for i in self.intents.values() if i.status == PaymentState.PAID]

    def refunds_of(self, intent_id: str | None) -> dict[str, int]:
        """The refunds of one intent that give money back: {refund id: amount}."""
        return self.refund_amounts.get(intent_id or "", {})

    def refunds_for(self, intent_id: str, booking_id: str) -> dict[str, int]:
        """The refunds of one intent that are the booking's: those naming it, and those naming
        none when it opened the intent (an intent several bookings claim)."""
        intent = self.intents.get(intent_id)
        opener = intent.booking_id if intent else None
        return {
            refund_id: amount
            for refund_id, amount in self.refunds_of(intent_id).items()
            if refund_is_of(booking_id, self.refund_named.get(refund_id), opener)
        }

    def unread(self, intent_id: str) -> bool:
        """Not read, perhaps because it is older than the window read (a split's claim on the
        first booking's intent)."""
        return self.since is not None and intent_id not in self.intents


async def load_ledger(
    client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    *,
    created_since: int | None = None,
    progress: Progress | None = None,
) -> Ledger:
    """Every PaymentIntent (created since `created_since`, epoch seconds) and its refunds, in
    the platform's account and every connected one in use."""
    async with db() as session:
        accounts = [None, *await connected_accounts(session)]
    ledger = Ledger(since=created_since)
    for account in accounts:
        await _read_account(ledger, client, account, created_since, progress)
    return ledger


async def _read_account(
    ledger: Ledger,
    client: stripe.StripeClient,
    account: str | None,
    created_since: int | None,
    progress: Progress | None,
) -> None:
    options: stripe.RequestOptions = {"stripe_account": account}
    charge_intent: dict[str, str] = {}
    async for raw in _list(client.v1.payment_intents, options, created_since):
        intent = _intent(raw, account)
        ledger.intents[intent.id] = intent
        charge = _id_of(getattr(raw, "latest_charge", None))
        if charge:
            charge_intent[charge] = intent.id
        tell(progress, "stripe payments", len(ledger.intents), None)
    async for refund in _list(client.v1.refunds, options, created_since):
        intent_id = _id_of(getattr(refund, "payment_intent", None)) or charge_intent.get(
            _id_of(getattr(refund, "charge", None)) or ""
        )
        ledger.refunds += 1
        if intent_id and getattr(refund, "status", None) in _REFUND_COUNTS:
            ledger.refunded[intent_id] += int(refund.amount)
            ledger.refund_amounts[intent_id][refund.id] = int(refund.amount)
            metadata = refund.to_dict().get("metadata") or {}
            ledger.refund_named[refund.id] = metadata.get("booking_id")
            if metadata.get("reason") == RefundSource.LATE_PAYMENT:
                ledger.late_refunds.add(refund.id)
        tell(progress, "stripe refunds", ledger.refunds, None)


async def _list(
    service: Any, options: stripe.RequestOptions, created_since: int | None
) -> AsyncIterator[Any]:
    params: dict[str, Any] = {"limit": _PAGE}
    page = None
    if created_since is not None:
        try:
            page = await service.list_async({**params, "created": {"gte": created_since}}, options)
        except (stripe.InvalidRequestError, stripe.APIError):
            page = None  # localstripe: 400 "Unexpected created" (intents), 500 (refunds)
    if page is None:
        page = await service.list_async(params, options)
    async for item in page.auto_paging_iter():
        if created_since is None or int(item.created) >= created_since:
            yield item


def _intent(raw: Any, account: str | None) -> Intent:
    metadata = raw.to_dict().get("metadata") or {}
    return Intent(
        id=raw.id,
        status=PaymentState.from_stripe(raw.status),
        booking_id=metadata.get("booking_id"),
        amount=int(raw.amount),
        amount_received=amount_received(raw),
        currency=str(raw.currency).upper(),
        created=int(raw.created),
        account=account,
    )


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, or the object itself."""
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "id", "")) or None
