"""Stripe PaymentIntents and refunds, each call carrying an idempotency key of its own step."""

from typing import Any

import stripe
from temporalio import activity

from core.errors import PaymentProviderRefused
from models.payments import (
    CreatePaymentIntent,
    PaymentIntentInfo,
    PaymentState,
    RefundInfo,
    RefundRequest,
)

# Stripe refuses these cancellations; the intent's real state is read back instead.
_NOT_CANCELLABLE = {PaymentState.PAID, PaymentState.PROCESSING, PaymentState.VOID}


def make_stripe_client(
    api_key: str, api_base: str | None, http_client: stripe.HTTPClient | None = None
) -> stripe.StripeClient:
    """An async client (httpx unless `http_client`); `api_base` points at localstripe."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=http_client or stripe.HTTPXClient(),
        max_network_retries=0,  # Temporal's retry policy owns retries.
    )


def idempotency_key(booking_id: str, step: str) -> str:
    """stripe-python makes a fresh key per call otherwise: a retried activity would pay twice."""
    return f"booking-{booking_id}-{step}"


class PaymentActivities:
    """The payment adapter: Stripe's objects in, the booking's own payment facts out."""

    def __init__(self, client: stripe.StripeClient):
        self._stripe = client

    @activity.defn(name="create_payment_intent")
    async def create_intent(self, request: CreatePaymentIntent) -> PaymentIntentInfo:
        intent = await self._call(
            self._stripe.v1.payment_intents.create_async,
            {
                "amount": request.amount,
                "currency": request.currency.lower(),
                "metadata": {"booking_id": request.booking_id},
                "payment_method_types": ["card"],
            },
            {"idempotency_key": idempotency_key(request.booking_id, "create-intent")},
        )
        return _intent_info(intent)

    @activity.defn(name="get_payment_intent")
    async def get_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """The intent as Stripe holds it; once paid, with the card's brand and last 4 digits."""
        intent = await self._call(self._stripe.v1.payment_intents.retrieve_async, payment_intent_id)
        info = _intent_info(intent)
        method_id = getattr(intent, "payment_method", None)
        if info.status == PaymentState.PAID and isinstance(method_id, str):
            method = await self._stripe.v1.payment_methods.retrieve_async(method_id)
            card = method.to_dict().get("card") or {}
            info.card_brand, info.card_last4 = card.get("brand"), card.get("last4")
        return info

    @activity.defn(name="cancel_payment_intent")
    async def cancel_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """Cancel, or say why not: the returned status is what Stripe holds now."""
        current = await self.get_intent(payment_intent_id)
        if current.status in _NOT_CANCELLABLE:
            return current
        try:
            intent = await self._stripe.v1.payment_intents.cancel_async(payment_intent_id)
        except stripe.InvalidRequestError:
            # It moved on (e.g. succeeded) between our read and the cancel.
            return await self.get_intent(payment_intent_id)
        return _intent_info(intent)

    @activity.defn(name="refund_payment")
    async def refund(self, request: RefundRequest) -> RefundInfo:
        """Refund (in full, or `amount`), once per (booking, sequence, reason), even after
        Stripe's idempotency keys expire (24 h)."""
        step = f"refund-{request.reason}"
        metadata = {"booking_id": request.booking_id, "reason": request.reason}
        if request.sequence is not None:
            # Two partial refunds for the same reason are two refunds, not one retried.
            step = f"refund-{request.sequence}-{request.reason}"
            metadata["sequence"] = str(request.sequence)
        for earlier_refund in await self._refunds_of(request.payment_intent_id):
            earlier = _metadata(earlier_refund)
            if (earlier.get("reason"), earlier.get("sequence")) == (
                metadata["reason"],
                metadata.get("sequence"),
            ):
                return _refund_info(earlier_refund)
        params: dict[str, Any] = {"payment_intent": request.payment_intent_id, "metadata": metadata}
        if request.amount is not None:
            params["amount"] = request.amount
        refund = await self._call(
            self._stripe.v1.refunds.create_async,
            params,
            {"idempotency_key": idempotency_key(request.booking_id, step)},
        )
        return _refund_info(refund)

    @activity.defn(name="list_refunds")
    async def list_refunds(self, payment_intent_id: str) -> list[RefundInfo]:
        """Every refund Stripe holds for the intent, oldest first, however it was made."""
        refunds = [_refund_info(r) for r in await self._refunds_of(payment_intent_id)]
        return sorted(refunds, key=lambda r: (r.created, r.id))

    async def _refunds_of(self, payment_intent_id: str) -> list[Any]:
        page = await self._stripe.v1.refunds.list_async(
            {"payment_intent": payment_intent_id, "limit": 100}
        )
        return list(page.data)

    async def _call(self, method: Any, *args: Any) -> Any:
        """Stripe's 4xx answers are final; network trouble and 5xx go to Temporal's retries."""
        try:
            return await method(*args)
        except (stripe.InvalidRequestError, stripe.CardError, stripe.AuthenticationError) as err:
            raise PaymentProviderRefused(f"Stripe refused: {err.user_message or err}") from err


def _intent_info(intent: Any) -> PaymentIntentInfo:
    return PaymentIntentInfo(
        id=intent.id,
        status=PaymentState.from_stripe(intent.status),
        amount=intent.amount,
        amount_received=amount_received(intent),
        currency=intent.currency.upper(),
        client_secret=intent.client_secret or "",
    )


def _metadata(stripe_object: Any) -> dict[str, str]:
    return dict(stripe_object.to_dict().get("metadata") or {})


def _refund_info(refund: Any) -> RefundInfo:
    return RefundInfo(
        refund.id,
        refund.status or "",
        refund.amount,
        refund.currency.upper(),
        int(getattr(refund, "created", 0) or 0),
    )


def amount_received(intent: Any) -> int:
    """Stripe reports `amount_received`; localstripe omits it, so read the captured charge."""
    received = getattr(intent, "amount_received", None)
    if received is not None:
        return int(received)
    charge = getattr(intent, "latest_charge", None)
    if isinstance(charge, stripe.StripeObject) and getattr(charge, "status", "") == "succeeded":
        return int(charge["amount"]) if getattr(charge, "captured", True) else 0
    return 0
