"""Rate limits per API key (issue 10): past its limit a key gets 429 problem+json with
Retry-After, other keys are not affected, and the key recovers once the window has passed."""

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import Role
from core.settings import Settings
from store.api_keys import create_key
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import VariantFactory
from tests.helpers.stack import Stack


async def _key(
    db: async_sessionmaker[AsyncSession], settings: Settings, per_minute: int
) -> dict[str, str]:
    async with db.begin() as s:
        _, secret = await create_key(
            s, DEFAULT_ORGANISATION_ID, Role.CLIENT, "limited", settings.api_key_pepper, per_minute
        )
    return {"Authorization": f"Bearer {secret}"}


async def test_a_key_past_its_limit_gets_429_with_retry_after(stack: Stack) -> None:
    limited = await _key(stack.db, stack.settings, per_minute=2)
    statuses = [
        (await stack.api.get("/v1/sessions", headers=limited)).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = await stack.api.get("/v1/sessions", headers=limited)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another key (the suite's, with the default limit) is not affected.
    assert (await stack.api.get("/v1/sessions")).status_code == 200


async def test_a_limited_key_recovers_after_the_window(
    api_variant: VariantFactory, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    limited = await _key(db, settings, per_minute=30)  # one in each 2-second window
    async with api_variant(rate_limit_window_seconds=2) as api:
        assert (await api.get("/v1/sessions", headers=limited)).status_code == 200
        refused = await api.get("/v1/sessions", headers=limited)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] in {"1", "2"}
        await asyncio.sleep(float(refused.headers["retry-after"]) + 0.1)
        assert (await api.get("/v1/sessions", headers=limited)).status_code == 200


async def test_unknown_keys_are_401_not_counted(api: httpx.AsyncClient) -> None:
    """Authentication comes first: a wrong key is told so, never asked to wait."""
    for _ in range(3):
        response = await api.get("/v1/sessions", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
