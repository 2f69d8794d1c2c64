"""The safety net's eyes: what no booking workflow will ever put right, found by the same
finders the consistency check uses (ops.findings)."""

from datetime import UTC, datetime, timedelta

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from models.repairs import OrphanHold, SafetyNetInput, UnclaimedPayment
from ops import findings


class RepairActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        temporal: Client,
        stripe_client: stripe.StripeClient,
    ):
        self._sessionmaker = sessionmaker
        self._temporal = temporal
        self._stripe = stripe_client

    @activity.defn(name="find_orphan_holds")
    async def orphan_holds(self, input: SafetyNetInput) -> list[OrphanHold]:
        """Bookings holding places they will never release: their workflow ended, or they are
        pending long past their hold. Paid places (sold to a confirmed booking) are not here."""
        found = await findings.orphan_holds(
            self._sessionmaker,
            self._temporal,
            grace=timedelta(seconds=input.hold_grace_seconds),
            settle_seconds=input.settle_seconds,
        )
        return [
            OrphanHold(hold.booking_id, hold.status, hold.workflow_open)
            for hold in found
            if hold.held and hold.status not in findings.CLAIMING
        ]

    @activity.defn(name="find_unclaimed_payments")
    async def unclaimed_payments(self, input: SafetyNetInput) -> list[UnclaimedPayment]:
        """Succeeded payments no confirmed booking holds, not refunded, and no live workflow
        will claim or refund."""
        since = datetime.now(UTC) - timedelta(seconds=input.payment_window_seconds)
        found = await findings.unclaimed_payments(
            self._sessionmaker,
            self._temporal,
            self._stripe,
            created_since=since,
            settle_seconds=input.settle_seconds,
        )
        return [
            UnclaimedPayment(
                payment.payment_intent_id,
                payment.booking_id if payment.booking_status is not None else None,
                payment.amount - payment.refunded,
                payment.currency,
            )
            for payment in found
        ]
