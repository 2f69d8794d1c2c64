"""Which Stripe account a booking's payment lives in (Stripe Connect direct charges).

An organisation with a connected account is paid into it, with the platform's fee; one
without is paid into the platform's own account (None here). The account a PaymentIntent was
made in is written on its booking with it (bookings.stripe_account_id) and every later call
about that payment goes there, whatever the organisation's account is by then.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.platform_fee import platform_fee
from models.tables import Booking, BookingPayment, Organisation, Session


@dataclass(frozen=True)
class ChargeTerms:
    """Where a new payment goes, and the platform's fee on it."""

    account: str | None = None  # None: the platform's own account
    fee_basis_points: int = 0
    fee_fixed: int = 0

    def fee(self, amount: int) -> int | None:
        """The application fee on `amount`: None on the platform's own account, which takes
        all of the payment anyway (Stripe takes an application fee only on a connected one)."""
        if self.account is None:
            return None
        return platform_fee(amount, self.fee_basis_points, self.fee_fixed)


PLATFORM = ChargeTerms()


async def charge_terms(db: AsyncSession, booking_id: uuid.UUID) -> ChargeTerms:
    """The terms of the booking's organisation as they are now (booking -> session ->
    organisation); the platform's for a booking not found."""
    row = (
        await db.execute(
            select(
                Organisation.stripe_account_id,
                Organisation.platform_fee_basis_points,
                Organisation.platform_fee_fixed,
            )
            .join(Session, Session.organisation_id == Organisation.id)
            .join(Booking, Booking.session_id == Session.id)
            .where(Booking.id == booking_id)
        )
    ).one_or_none()
    if row is None or row.stripe_account_id is None:
        return PLATFORM
    return ChargeTerms(row.stripe_account_id, row.platform_fee_basis_points, row.platform_fee_fixed)


async def account_of_intent(db: AsyncSession, payment_intent_id: str) -> str | None:
    """The account the booking holding this intent (its own, or a move's difference: the
    booking's account too) made it in; None: the platform's (or no booking holds it)."""
    return await db.scalar(
        select(Booking.stripe_account_id)
        .outerjoin(BookingPayment, BookingPayment.booking_id == Booking.id)
        .where(
            (Booking.payment_intent_id == payment_intent_id)
            | (BookingPayment.payment_intent_id == payment_intent_id)
        )
        .limit(1)
    )


async def move_charge_terms(db: AsyncSession, booking_id: uuid.UUID) -> ChargeTerms:
    """Where a move's difference is paid: the account the booking's own payment is in, with
    the platform's fee of its organisation as it is now."""
    terms = await charge_terms(db, booking_id)
    account = await account_of_booking(db, booking_id)
    if account is None:
        return PLATFORM
    return ChargeTerms(account, terms.fee_basis_points, terms.fee_fixed)


async def account_of_booking(db: AsyncSession, booking_id: uuid.UUID) -> str | None:
    """The account the booking's payment was made in; None: the platform's (or no booking)."""
    return await db.scalar(select(Booking.stripe_account_id).where(Booking.id == booking_id))


async def connected_accounts(db: AsyncSession) -> list[str]:
    """Every connected account a payment of ours may be in: those bookings' intents were made
    in, and those organisations have now (an intent made but not yet written down), sorted."""
    query = union(
        select(Booking.stripe_account_id).where(Booking.stripe_account_id.is_not(None)),
        select(Organisation.stripe_account_id).where(Organisation.stripe_account_id.is_not(None)),
    )
    return sorted(str(account) for account in (await db.scalars(query)).all())
