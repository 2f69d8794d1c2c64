"""API keys: made once and shown once, stored as a lookup prefix and a keyed hash, checked in
constant time, revocable.

Why HMAC-SHA256 with a server pepper and not a slow hash (scrypt, argon2): a generated secret
carries 256 random bits, so guessing it is hopeless however fast the hash is, and a slow hash
would only cost every request tens of milliseconds of CPU. The pepper (a setting, kept out of
the database) means a copy of the database alone cannot even test a guess, which also covers
the low-entropy dev bootstrap keys.
"""

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import Role
from core.settings import Settings
from models.tables import ApiKey, Organisation
from store.organisations import DEFAULT_ORGANISATION_ID

SCHEME = "bk_"
PREFIX_LENGTH = 8
# `last_used_at` is written at most this often per key: the hot path only reads.
TOUCH_EVERY = timedelta(minutes=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who a valid key says is calling: the key's stable id, its organisation and role."""

    key_id: uuid.UUID
    organisation_id: uuid.UUID
    role: Role
    rate_limit_per_minute: int | None


@dataclass(frozen=True)
class KeyCheck:
    """What a presented secret turned out to be: unknown (None caller), revoked, or valid."""

    caller: Caller | None
    revoked: bool = False


def new_secret() -> str:
    return SCHEME + secrets.token_urlsafe(32)


def key_prefix(secret: str, pepper: str) -> str:
    """The stored lookup prefix: for `bk_` keys the characters after the scheme; other
    (bootstrap) secrets are not random at their start, so theirs is derived from the secret."""
    if secret.startswith(SCHEME) and len(secret) >= len(SCHEME) + PREFIX_LENGTH + 16:
        return secret[len(SCHEME) : len(SCHEME) + PREFIX_LENGTH]
    return "~" + _hmac(pepper, "prefix", secret)[: PREFIX_LENGTH + 3]


def secret_hash(secret: str, pepper: str) -> str:
    return _hmac(pepper, "key", secret)


def _hmac(pepper: str, purpose: str, secret: str) -> str:
    message = f"{purpose}\n{secret}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


async def create_key(
    db: AsyncSession,
    organisation_id: uuid.UUID,
    role: Role,
    name: str,
    pepper: str,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret: the secret is returned once and stored only hashed."""
    for _ in range(5):  # 48-bit prefixes: a clash is very unlikely, and then we draw again
        secret = new_secret()
        prefix = key_prefix(secret, pepper)
        if await db.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = ApiKey(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        role=role,
        name=name,
        prefix=prefix,
        hash=secret_hash(secret, pepper),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    db.add(key)
    await db.flush()
    await db.refresh(key)  # created_at, from the database's clock
    return key, secret


async def ensure_keys(
    db: AsyncSession, organisation_id: uuid.UUID, roles: Mapping[str, Role], pepper: str
) -> int:
    """Store these known secrets (dev bootstrap keys) unless stored already; how many were new.

    A key already stored is left as it is: revoking one is not undone by a restart.
    """
    if not roles:
        return 0
    rows = [
        {
            "id": uuid.uuid4(),
            "organisation_id": organisation_id,
            "role": role,
            "name": f"bootstrap {role} key",
            "prefix": key_prefix(secret, pepper),
            "hash": secret_hash(secret, pepper),
        }
        for secret, role in roles.items()
    ]
    inserted = await db.execute(
        insert(ApiKey).values(rows).on_conflict_do_nothing(index_elements=["prefix"])
    )
    return inserted.rowcount  # type: ignore[attr-defined, no-any-return]


async def check_key(db: AsyncSession, secret: str, pepper: str) -> KeyCheck:
    """Look the secret up by its prefix and compare hashes in constant time. Records the use
    (at most once per TOUCH_EVERY per key); the caller's transaction is committed then."""
    row = (
        await db.execute(
            select(
                ApiKey.id,
                ApiKey.organisation_id,
                ApiKey.role,
                ApiKey.hash,
                ApiKey.rate_limit_per_minute,
                ApiKey.revoked_at,
                ApiKey.last_used_at,
                func.now(),
            ).where(ApiKey.prefix == key_prefix(secret, pepper))
        )
    ).first()
    if row is None or not hmac.compare_digest(row.hash, secret_hash(secret, pepper)):
        return KeyCheck(None)
    if row.revoked_at is not None:
        return KeyCheck(None, revoked=True)
    now: datetime = row[-1]
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        await _touch(db, row.id)
    caller = Caller(row.id, row.organisation_id, Role(row.role), row.rate_limit_per_minute)
    return KeyCheck(caller)


async def _touch(db: AsyncSession, key_id: uuid.UUID) -> None:
    """Set `last_used_at`, unless another request (or replica) did within TOUCH_EVERY."""
    await db.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < func.now() - TOUCH_EVERY),
        )
        .values(last_used_at=func.now())
    )
    await db.commit()


async def list_keys(
    db: AsyncSession, organisation_id: uuid.UUID | None = None
) -> Sequence[tuple[ApiKey, str]]:
    """Keys with their organisation's name, oldest first; all organisations' unless one is given."""
    query = select(ApiKey, Organisation.name).join(Organisation).order_by(ApiKey.created_at)
    if organisation_id is not None:
        query = query.where(ApiKey.organisation_id == organisation_id)
    return [(key, name) for key, name in (await db.execute(query)).all()]


async def revoke_key(db: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    """Revoke the key (from now on it is refused with 401); None if there is no such key.
    Revoking twice keeps the first time."""
    key = await db.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = await db.scalar(select(func.now()))
        await db.flush()
    return key


async def store_bootstrap_keys(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """The dev bootstrap keys (`api_keys` setting), stored hashed in the default organisation.
    Never in production; a database not reachable yet is logged, not fatal (the API still
    answers /healthz, and the next start stores them)."""
    if settings.env == "production" or not settings.api_keys:
        return
    try:
        async with sessionmaker.begin() as db:
            added = await ensure_keys(
                db, DEFAULT_ORGANISATION_ID, settings.api_keys, settings.api_key_pepper
            )
    except (OSError, SQLAlchemyError) as err:
        log.warning("bootstrap API keys not stored: %r", err)
        return
    if added:
        log.info("stored %d bootstrap API key(s) in the default organisation", added)
