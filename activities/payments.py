"""Stripe PaymentIntents and refunds, each call carrying an idempotency key of its own step.

Every activity here lets Stripe's errors out only classified (`classify`): retried when Stripe
could not answer, or refused for good under a named type.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stripe.params import PaymentIntentCreateParams, RefundCreateParams
from temporalio import activity

from core.errors import (
    BookingError,
    PaymentCardDeclined,
    PaymentIdempotencyKeyReused,
    PaymentObjectMissing,
    PaymentProviderAuthenticationFailed,
    PaymentProviderForbidden,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    PaymentRequestInvalid,
    PaymentSignatureInvalid,
    RefundExceedsRemaining,
)
from messages.payments import (
    CreatePaymentIntent,
    PaymentIntentInfo,
    PaymentState,
    RefundInfo,
    RefundRequest,
    amount_received,
)
from store.stripe_accounts import (
    PLATFORM,
    ChargeTerms,
    account_of_booking,
    account_of_intent,
    charge_terms,
    move_charge_terms,
)

# Each of stripe-python's error classes, retried (None: Stripe could not answer now) or refused
# for good as a named type. A class not named (the v2 API's and OAuth's, which this engine never
# calls) is refused as its nearest named ancestor, at worst StripeError's.
STRIPE_ERRORS: dict[type[stripe.StripeError], type[BookingError] | None] = {
    stripe.APIConnectionError: None,  # no answer, or none in time
    stripe.RateLimitError: None,  # 429, also Stripe's lock_timeout
    stripe.APIError: None,  # 5xx, a 409 conflict, or no JSON; any other 4xx is refused
    stripe.InvalidRequestError: PaymentRequestInvalid,  # 400; a 404 is PaymentObjectMissing
    stripe.IdempotencyError: PaymentIdempotencyKeyReused,
    stripe.CardError: PaymentCardDeclined,
    stripe.AuthenticationError: PaymentProviderAuthenticationFailed,
    stripe.PermissionError: PaymentProviderForbidden,
    stripe.SignatureVerificationError: PaymentSignatureInvalid,
    stripe.StripeError: PaymentProviderRefused,
}


def classify(err: stripe.StripeError) -> BookingError:
    """The error an activity raises for `err`: PaymentProviderUnavailable (retried) or a
    non-retryable refusal."""
    message = err.user_message or str(err)
    refusal = _refusal(err)
    if refusal is None:
        return PaymentProviderUnavailable(f"Stripe did not answer: {message}")
    details = {"stripe_code": err.code} if err.code else {}
    return refusal(f"Stripe refused: {message}", **details)


def _refusal(err: stripe.StripeError) -> type[BookingError] | None:
    if isinstance(err, stripe.InvalidRequestError) and err.http_status == 404:
        return PaymentObjectMissing  # resource_missing: asking again finds nothing either
    status = err.http_status
    if isinstance(err, stripe.APIError) and status and 400 <= status < 500 and status != 409:
        return PaymentProviderRefused
    named = next(cls for cls in type(err).__mro__ if cls in STRIPE_ERRORS)
    return STRIPE_ERRORS[named]


Params = ParamSpec("Params")
Result = TypeVar("Result")


def classified(
    method: Callable[Params, Awaitable[Result]],
) -> Callable[Params, Awaitable[Result]]:
    """`method` with any Stripe error it lets out classified (`classify`)."""

    @functools.wraps(method)
    async def call(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return await method(*args, **kwargs)
        except stripe.StripeError as err:
            raise classify(err) from err

    return call


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


def on_account(account: str | None, idempotency_key: str | None = None) -> stripe.RequestOptions:
    """Request options for a call made in `account` (its `Stripe-Account`; None: the
    platform's own)."""
    options: stripe.RequestOptions = {"stripe_account": account}
    if idempotency_key is not None:
        options["idempotency_key"] = idempotency_key
    return options


class PaymentActivities:
    """The payment adapter: Stripe's objects in, the booking's own payment facts out.

    Every call about a payment is made in the Stripe account its intent was made in (Stripe
    Connect direct charges): the one its booking's row records, read from `sessionmaker`.
    Without one, every call is made in the platform's own account (tests whose bookings are all
    the platform's)."""

    def __init__(
        self,
        client: stripe.StripeClient,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ):
        self._stripe = client
        self._sessionmaker = sessionmaker

    async def charge_terms(self, booking_id: str) -> ChargeTerms:
        """Where the booking's payment is to be made now, and the platform's fee on it."""
        if self._sessionmaker is None:
            return PLATFORM
        async with self._sessionmaker() as db:
            return await charge_terms(db, uuid.UUID(booking_id))

    async def move_charge_terms(self, booking_id: str) -> ChargeTerms:
        """Where a dearer move's difference is paid: the booking's own payment's account."""
        if self._sessionmaker is None:
            return PLATFORM
        async with self._sessionmaker() as db:
            return await move_charge_terms(db, uuid.UUID(booking_id))

    async def account_of(self, payment_intent_id: str) -> str | None:
        """The account the intent was made in, as its booking records it."""
        if self._sessionmaker is None:
            return None
        async with self._sessionmaker() as db:
            return await account_of_intent(db, payment_intent_id)

    async def _refund_account(self, request: RefundRequest) -> str | None:
        """The account a refund for the booking is made in: the one its payment was made in
        (or where the safety net found the money). Never the account of the intent named:
        an intent of another organisation is then not found there, and nothing is refunded."""
        if request.stripe_account_id is not None or self._sessionmaker is None:
            return request.stripe_account_id
        async with self._sessionmaker() as db:
            return await account_of_booking(db, uuid.UUID(request.booking_id))

    @classified
    async def create_intent(
        self, request: CreatePaymentIntent, terms: ChargeTerms = PLATFORM
    ) -> PaymentIntentInfo:
        """Not an activity of its own: `open_payment` creates the intent and records it, in
        the account of `terms`, with its fee (none asked for when it is 0)."""
        metadata = {"booking_id": request.booking_id}
        step = "create-intent"
        if request.move_number is not None:  # the webhook routes its events to the booking too
            metadata["move_number"] = str(request.move_number)
            step = f"create-move-intent-{request.move_number}"
        params: PaymentIntentCreateParams = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "metadata": metadata,
            # Not in stripe-python's typed parameters, but Stripe and localstripe take it.
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
        }
        if fee := terms.fee(request.amount):
            params["application_fee_amount"] = fee
        intent = await self._stripe.v1.payment_intents.create_async(
            params,
            on_account(
                terms.account,
                idempotency_key=idempotency_key(request.booking_id, step),
            ),
        )
        return _intent_info(intent)

    @activity.defn(name="get_payment_intent")
    @classified
    async def get_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """The intent as Stripe holds it; once paid, with the card's brand and last 4 digits."""
        return await self._read(payment_intent_id, await self.account_of(payment_intent_id))

    async def _read(self, payment_intent_id: str, account: str | None) -> PaymentIntentInfo:
        options = on_account(account)
        intent = await self._stripe.v1.payment_intents.retrieve_async(
            payment_intent_id, options=options
        )
        info = _intent_info(intent)
        method_id = getattr(intent, "payment_method", None)
        if info.status == PaymentState.PAID and isinstance(method_id, str):
            method = await self._stripe.v1.payment_methods.retrieve_async(
                method_id, options=options
            )
            card = method.to_dict().get("card") or {}
            info.card_brand, info.card_last4 = card.get("brand"), card.get("last4")
        return info

    @activity.defn(name="cancel_payment_intent")
    @classified
    async def cancel_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """Cancel, or say why not: the returned status is what Stripe holds now."""
        account = await self.account_of(payment_intent_id)
        current = await self._read(payment_intent_id, account)
        if current.status in _NOT_CANCELLABLE:
            return current
        try:
            intent = await self._stripe.v1.payment_intents.cancel_async(
                payment_intent_id, options=on_account(account)
            )
        except stripe.InvalidRequestError:
            # It moved on (e.g. succeeded) between our read and the cancel.
            return await self._read(payment_intent_id, account)
        return _intent_info(intent)

    @activity.defn(name="refund_payment")
    @classified
    async def refund(self, request: RefundRequest) -> RefundInfo:
        """Refund (in full, or `amount`), once per (booking, sequence, reason), even after
        Stripe's idempotency keys expire (24 h), and never more than what remains at Stripe.

        In a connected account the platform's fee goes back in the same proportion as the
        payment (`refund_application_fee`: Stripe refunds amount / amount paid of the fee), so
        the organiser is never left paying a fee on money it returned."""
        account = await self._refund_account(request)
        metadata = {"booking_id": request.booking_id, "reason": request.reason}
        if request.sequence is not None:
            metadata["sequence"] = str(request.sequence)
        intent = await self._stripe.v1.payment_intents.retrieve_async(
            request.payment_intent_id, options=on_account(account)
        )
        received = amount_received(intent)
        # Nothing received, nothing refunded (and localstripe fails to list such refunds).
        refunds = await self._refunds_of(request.payment_intent_id, account) if received else []
        for earlier in refunds:
            # An intent may pay for several bookings (a partial move's split): another
            # booking's refund with the same sequence is not this one.
            made = _metadata(earlier)
            if (made.get("booking_id"), made.get("reason"), made.get("sequence")) == (
                request.booking_id,
                metadata["reason"],
                metadata.get("sequence"),
            ):
                return _refund_info(earlier)
        standing = sum(info.amount for info in map(_refund_info, refunds) if info.counts)
        _refuse_beyond(request.amount, received - standing)
        params: RefundCreateParams = {
            "payment_intent": request.payment_intent_id,
            "metadata": metadata,
        }
        if request.amount is not None:
            params["amount"] = request.amount
        if account is not None:
            params["refund_application_fee"] = True
        refund = await self._stripe.v1.refunds.create_async(
            params,
            on_account(
                account,
                idempotency_key=idempotency_key(request.booking_id, _refund_step(request)),
            ),
        )
        return _refund_info(refund)

    @activity.defn(name="list_refunds")
    @classified
    async def list_refunds(self, payment_intent_id: str) -> list[RefundInfo]:
        """Every refund Stripe holds for the intent, oldest first, however it was made."""
        account = await self.account_of(payment_intent_id)
        refunds = [_refund_info(r) for r in await self._refunds_of(payment_intent_id, account)]
        return sorted(refunds, key=lambda r: (r.created, r.id))

    async def _refunds_of(self, payment_intent_id: str, account: str | None) -> list[Any]:
        page = await self._stripe.v1.refunds.list_async(
            {"payment_intent": payment_intent_id, "limit": 100}, on_account(account)
        )
        return [refund async for refund in page.auto_paging_iter()]


def _refuse_beyond(amount: int | None, remaining: int) -> None:
    """`remaining` is what Stripe received less the refunds that stand there. Real Stripe
    refuses more (`amount_too_large`), localstripe does not, and the workflow's own figures miss
    the refunds it has not read yet."""
    remaining = max(remaining, 0)
    if remaining == 0 or (amount or 0) > remaining:
        what = "the rest" if amount is None else str(amount)
        raise RefundExceedsRemaining(
            f"a refund of {what} asked for, {remaining} remains paid at Stripe",
            remaining=remaining,
        )


def _refund_step(request: RefundRequest) -> str:
    """The step of the idempotency key. A partial refund's names its sequence (two refunds for
    the same reason are two refunds) and its amount: a sequence number Stripe refused may come
    back with another amount, which under the same key Stripe would refuse as key reuse. One
    without a sequence (late money, in full or what no booking holds of it) names its intent:
    a booking may have late money on two intents."""
    if request.sequence is None:
        return f"refund-{request.reason}-{request.payment_intent_id}"
    return f"refund-{request.sequence}-{request.reason}-{request.amount}"


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
        _metadata(refund).get("booking_id"),
    )
