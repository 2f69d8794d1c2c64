"""What every command shares: settings, connections to the services, exit codes, one-line errors.

Exit codes: 0 all good, 1 the command found something wrong, 2 bad arguments or settings,
3 a service (PostgreSQL, Temporal, Stripe) could not be reached or failed.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import stripe
import typer
from pydantic import ValidationError
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from activities.payments import make_stripe_client
from core.db import make_engine, make_sessionmaker
from core.settings import Settings, get_settings
from core.temporal import connect, connect_config

OK, FOUND_PROBLEMS, BAD_USAGE, UNREACHABLE = 0, 1, 2, 3
CONNECT_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class ServiceFailed(Exception):
    """A service could not be reached or answered with an error; the message names it."""


@dataclass
class Services:
    db: async_sessionmaker[AsyncSession]
    temporal: Client
    stripe: stripe.StripeClient


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"booking-ops: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """Settings from the environment (BOOKING_*) and `.env`; bad ones end the command."""
    try:
        return get_settings()
    except ValidationError as err:
        problems = "; ".join(
            f"BOOKING_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors()
        )
        fail(f"bad settings: {problems}", BAD_USAGE)


def run(work: Awaitable[T]) -> T:
    """Run a command's async work; a service failure becomes one line and exit code 3."""
    try:
        return asyncio.run(_guarded(work))
    except ServiceFailed as err:
        fail(str(err), UNREACHABLE)


async def _guarded(work: Awaitable[T]) -> T:
    try:
        return await work
    except ServiceFailed:
        raise
    except (OSError, SQLAlchemyError) as err:
        raise ServiceFailed(f"PostgreSQL failed: {_one_line(err)}") from err
    except RPCError as err:
        raise ServiceFailed(f"Temporal failed: {_one_line(err)}") from err
    except stripe.StripeError as err:
        raise ServiceFailed(f"Stripe failed: {_one_line(err)}") from err


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """PostgreSQL, Temporal and Stripe, each tried once first so a failure names its service."""
    async with database(settings) as db:
        temporal = await temporal_client(settings)
        stripe_client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
        await _reach(
            "Stripe",
            settings.stripe_api_base or "api.stripe.com",
            stripe_client.v1.payment_intents.list_async({"limit": 1}),
        )
        yield Services(db, temporal, stripe_client)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """PostgreSQL only, for commands that need nothing else; tried once first."""
    engine = make_engine(settings)
    try:
        db = make_sessionmaker(engine)
        await _reach("PostgreSQL", _database_address(settings), _probe_db(db))
        yield db
    finally:
        await engine.dispose()


async def temporal_client(settings: Settings) -> Client:
    """Temporal only (through core.temporal.connect, so with the payload codec)."""
    return await _reach("Temporal", connect_config(settings)["target_host"], connect(settings))


async def _probe_db(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        await session.execute(text("SELECT 1"))


async def _reach(name: str, where: str, attempt: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(attempt, CONNECT_TIMEOUT_SECONDS)
    except TimeoutError as err:
        raise ServiceFailed(f"cannot reach {name} at {where}: no answer") from err
    except Exception as err:  # each client raises its own kinds; all mean "unreachable"
        raise ServiceFailed(f"cannot reach {name} at {where}: {_one_line(err)}") from err


def _database_address(settings: Settings) -> str:
    """The database URL without its password (the only address here that carries one)."""
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _one_line(err: BaseException) -> str:
    message = " ".join(str(err).split()) or type(err).__name__
    return message if len(message) <= 300 else message[:297] + "..."
