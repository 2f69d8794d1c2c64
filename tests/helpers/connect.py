"""Organisations paid into their own Stripe account (Connect), as tests make them: each a fresh
organisation with a fresh `acct_...` id (localstripe keeps each such account's objects apart),
a platform fee, sessions of its own and API keys."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import stripe
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import Role
from core.settings import Settings
from devstack.pay import pay
from models.tables import Organisation
from store.api_keys import create_key
from store.organisations import create_organisation
from tests.conftest import api_client
from tests.helpers.api_bookings import start_booking, wait_for_status

Db = async_sessionmaker[AsyncSession]

FEE_BASIS_POINTS = 250  # 2.5 %
FEE_FIXED = 20


@dataclass(frozen=True)
class Connected:
    organisation_id: uuid.UUID
    account: str
    client_key: str
    admin_key: str

    def on_account(self) -> stripe.RequestOptions:
        return {"stripe_account": self.account}


def new_account() -> str:
    return f"acct_{uuid.uuid4().hex[:16]}"


async def connected_organisation(
    db: Db, settings: Settings, fee_basis_points: int = FEE_BASIS_POINTS, fee_fixed: int = FEE_FIXED
) -> Connected:
    """A new organisation paid into a new connected account, with this fee, and its keys."""
    account = new_account()
    async with db.begin() as s:
        organisation = await create_organisation(s, f"Connected {uuid.uuid4().hex[:8]}")
        await s.execute(
            update(Organisation)
            .where(Organisation.id == organisation.id)
            .values(
                stripe_account_id=account,
                platform_fee_basis_points=fee_basis_points,
                platform_fee_fixed=fee_fixed,
            )
        )
        _, client_key = await create_key(
            s, organisation.id, Role.CLIENT, "connect client", settings.api_key_pepper
        )
        _, admin_key = await create_key(
            s, organisation.id, Role.ADMIN, "connect admin", settings.api_key_pepper
        )
    return Connected(organisation.id, account, client_key, admin_key)


async def paid_in(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    connected: Connected,
    session_id: str,
) -> dict[str, Any]:
    """A booking of the organisation's (`api`: its key) paid in its account, once CONFIRMED."""
    booking = await start_booking(api, session_id)
    intent_id = booking["payment"]["payment_intent_id"]
    assert await pay(stripe_client, intent_id, account=connected.account) == "succeeded"
    return await wait_for_status(api, booking["id"], "CONFIRMED")


@asynccontextmanager
async def organiser(
    db: Db,
    settings: Settings,
    api_url: str,
    fee_basis_points: int = FEE_BASIS_POINTS,
    fee_fixed: int = FEE_FIXED,
) -> AsyncIterator[tuple[Connected, httpx.AsyncClient]]:
    """A new connected organisation with this fee, and a client of the API with its key."""
    connected = await connected_organisation(db, settings, fee_basis_points, fee_fixed)
    async with api_client(api_url, connected.client_key) as client:
        yield connected, client
