"""API keys (issue 10): stored only as a prefix and a keyed hash, refused when unknown or
revoked, `last_used_at` kept cheaply; the dev bootstrap; the operators' own credential."""

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import OperatorCaller, get_settings_dep
from core.enums import Role
from core.settings import Settings
from models.tables import ApiKey
from store.api_keys import create_key, revoke_key, secret_hash
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import VariantFactory
from tests.conftest import CLIENT_KEY, SessionFactory
from tests.helpers.api_bookings import booking_body

KeyFactory = Callable[..., Awaitable[tuple[uuid.UUID, str]]]


@pytest.fixture
def new_key(db: async_sessionmaker[AsyncSession], settings: Settings) -> KeyFactory:
    """A fresh key of the default organisation: (its id, its secret)."""

    async def make(role: Role = Role.CLIENT, **options: int) -> tuple[uuid.UUID, str]:
        async with db.begin() as s:
            key, secret = await create_key(
                s, DEFAULT_ORGANISATION_ID, role, "test", settings.api_key_pepper, **options
            )
        return key.id, secret

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_no_key_and_an_unknown_key_are_401(api: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": ""}, bearer("bk_" + "x" * 43), bearer("nonsense")):
        response = await api.get("/v1/sessions", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_key_is_stored_only_as_prefix_and_hash(
    new_key: KeyFactory, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    key_id, secret = await new_key()
    assert secret.startswith("bk_") and len(secret) >= 40
    async with db() as s:
        row = await s.scalar(
            text("SELECT row_to_json(api_keys)::text FROM api_keys WHERE id = :id"),
            {"id": key_id},
        )
        stored = await s.get(ApiKey, key_id)
    assert row is not None and stored is not None
    assert secret not in row and secret[3:] not in row and secret[11:19] not in row
    assert stored.prefix == secret[3:11]
    assert stored.hash == secret_hash(secret, settings.api_key_pepper) != secret


async def test_a_revoked_key_is_401(
    api: httpx.AsyncClient, new_key: KeyFactory, db: async_sessionmaker[AsyncSession]
) -> None:
    key_id, secret = await new_key()
    assert (await api.get("/v1/sessions", headers=bearer(secret))).status_code == 200
    async with db.begin() as s:
        await revoke_key(s, key_id)
    response = await api.get("/v1/sessions", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key was revoked"
    # A secret that only shares the prefix is not the key.
    impostor = secret[:11] + ("A" if secret[11] != "A" else "B") + secret[12:]
    assert (await api.get("/v1/sessions", headers=bearer(impostor))).status_code == 401


async def test_last_used_at_is_set_at_most_once_a_minute(
    api: httpx.AsyncClient, new_key: KeyFactory, db: async_sessionmaker[AsyncSession]
) -> None:
    key_id, secret = await new_key()

    async def last_used() -> object:
        async with db() as s:
            return await s.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))

    assert await last_used() is None
    await api.get("/v1/sessions", headers=bearer(secret))
    first = await last_used()
    assert first is not None
    await api.get("/v1/sessions", headers=bearer(secret))
    assert await last_used() == first


async def test_booking_ids_derive_from_the_keys_id(
    api: httpx.AsyncClient, new_key: KeyFactory, new_session: SessionFactory
) -> None:
    """The same Idempotency-Key finds the same booking with the same key, never another key's."""
    session_id = await new_session(capacity=4)
    _, other_secret = await new_key()
    idempotency = {"Idempotency-Key": str(uuid.uuid4())}
    body = booking_body(session_id)
    first = await api.post("/v1/bookings", json=body, headers=idempotency)
    again = await api.post("/v1/bookings", json=body, headers=idempotency)
    other = await api.post(
        "/v1/bookings", json=body, headers={**idempotency, **bearer(other_secret)}
    )
    assert {first.status_code, again.status_code, other.status_code} == {201}
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]


async def test_bootstrap_keys_are_stored_hashed_and_stay_revoked(
    api_variant: VariantFactory, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    secret = f"bootstrap-{uuid.uuid4().hex}"
    async with api_variant(api_keys={secret: "admin"}) as api:
        response = await api.post("/v1/sessions", json={}, headers=bearer(secret))
        assert response.status_code == 422  # an admin's request, refused only for its body
    async with db.begin() as s:
        stored = await s.scalar(
            select(ApiKey).where(ApiKey.hash == secret_hash(secret, settings.api_key_pepper))
        )
        assert stored is not None
        assert (stored.role, stored.organisation_id) == ("admin", DEFAULT_ORGANISATION_ID)
        await revoke_key(s, stored.id)
    async with api_variant(api_keys={secret: "admin"}) as api:
        assert (await api.get("/v1/sessions", headers=bearer(secret))).status_code == 401


def test_production_refuses_bootstrap_keys() -> None:
    with pytest.raises(ValidationError, match="dev bootstrap"):
        Settings(env="production", api_keys={"some-long-secret": Role.CLIENT})
    with pytest.raises(ValidationError, match="api key pepper"):
        Settings(env="production", stripe_api_key="sk_live_x", stripe_webhook_secret="whsec_x")


async def test_operators_use_their_own_token_never_an_organisation_key(settings: Settings) -> None:
    app = FastAPI()

    @app.get("/operator-only")
    def operator_only(_: OperatorCaller) -> str:
        return "ok"

    transport = httpx.ASGITransport(app=app)
    for token, presented, status in [
        ("operator-secret", "operator-secret", 200),
        ("operator-secret", CLIENT_KEY, 401),
        ("operator-secret", None, 401),
        (None, CLIENT_KEY, 403),
    ]:
        configured = settings.model_copy(update={"operator_token": token})
        app.dependency_overrides[get_settings_dep] = lambda configured=configured: configured
        headers = bearer(presented) if presented else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get("/operator-only", headers=headers)).status_code == status


async def test_roles_client_books_admin_manages(
    api: httpx.AsyncClient, new_key: KeyFactory
) -> None:
    _, client = await new_key(Role.CLIENT)
    _, admin = await new_key(Role.ADMIN)
    assert (await api.post("/v1/sessions", json={}, headers=bearer(client))).status_code == 403
    assert (await api.post("/v1/sessions", json={}, headers=bearer(admin))).status_code == 422
