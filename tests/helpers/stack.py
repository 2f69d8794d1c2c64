"""The session's servers and clients in one value: the `stack` fixture (tests/conftest.py)
stands for the six or seven fixtures most tests of a booking would otherwise each name."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.settings import Settings
from tests.fakes.sendgrid_server import FakeSendGrid


@dataclass(frozen=True)
class Stack:
    """PostgreSQL, Temporal (with the session's worker running), localstripe, the fake SendGrid
    and the API, as a test reaches them."""

    api: httpx.AsyncClient  # the default organisation's client key
    api_url: str
    temporal: Client
    db: async_sessionmaker[AsyncSession]
    stripe_client: stripe.StripeClient
    sendgrid: FakeSendGrid
    settings: Settings
    new_session: Callable[..., Awaitable[str]]  # tests/conftest.py `new_session`
