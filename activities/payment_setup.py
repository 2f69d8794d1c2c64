"""A booking's PaymentIntent created and recorded in one step: one local activity per booking
start instead of two (issue 13)."""

import uuid

from temporalio import activity

from activities.inventory import InventoryActivities
from activities.payments import PaymentActivities
from core.enums import BookingStatus
from messages.booking import OpenMovePayment, Transition
from messages.payments import CreatePaymentIntent, PaymentIntentInfo
from store.booking_payments import MoveIntent


class PaymentSetupActivities:
    """Stripe first, then the database: never a transaction held open across an HTTP call."""

    def __init__(self, payments: PaymentActivities, inventory: InventoryActivities):
        self._payments = payments
        self._inventory = inventory

    @activity.defn(name="open_payment")
    async def open_payment(self, request: CreatePaymentIntent) -> PaymentIntentInfo:
        """Create the intent in the account of the booking's organisation (with the platform's
        fee there) and write its id, that account, the fee and PENDING_PAYMENT (with
        `booking.created`) to the booking row in one transaction. Safe to run again: Stripe
        answers a repeated idempotency key with the same intent, and recording the same
        transition twice writes no second event."""
        terms = await self._payments.charge_terms(request.booking_id)
        intent = await self._payments.create_intent(request, terms)
        await self._inventory.record(
            Transition(
                request.booking_id,
                BookingStatus.PENDING_PAYMENT,
                payment_intent_id=intent.id,
                stripe_account_id=terms.account,
                application_fee_amount=terms.fee(request.amount),
            )
        )
        return intent

    @activity.defn(name="open_move_payment")
    async def open_move_payment(self, request: OpenMovePayment) -> PaymentIntentInfo:
        """Create the intent of a dearer move's difference in the account the booking's own
        payment is in (with the platform's fee on the difference there) and write it into
        `booking_payments`. Safe to run again: the same intent, written once."""
        terms = await self._payments.move_charge_terms(request.booking_id)
        # Stripe is not given the customer's address (nor is it for the booking's own intent).
        create = CreatePaymentIntent(
            request.booking_id, request.amount, request.currency, "", request.move_number
        )
        intent = await self._payments.create_intent(create, terms)
        await self._inventory.record_move_intent(
            MoveIntent(
                intent.id,
                uuid.UUID(request.booking_id),
                request.move_number,
                uuid.UUID(request.session_id),
                request.amount,
                request.currency,
            )
        )
        return intent
