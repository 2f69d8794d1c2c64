"""`/v1/webhook-endpoints`: admins only, per organisation, secrets shown once and stored
encrypted, bad input refused as problem+json."""

import base64

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from core.settings import Settings
from core.webhook_secrets import unseal
from models.tables import WebhookEndpoint
from store.webhook_endpoints import MAX_ENDPOINTS_PER_ORGANISATION
from tests.api.webhooks_out.conftest import Register
from tests.conftest import OTHER_ADMIN_KEY

PROBLEM = "application/problem+json"


async def test_the_secret_is_shown_once_in_the_standard_form_and_stored_encrypted(
    admin: httpx.AsyncClient,
    register: Register,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    endpoint = await register("shop", events=["booking.confirmed"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    Webhook(secret)  # the package takes it as it is
    read = (await admin.get(f"/v1/webhook-endpoints/{endpoint['id']}")).json()
    listed = (await admin.get("/v1/webhook-endpoints")).json()["items"]
    assert "secret" not in read and all("secret" not in e for e in listed)
    assert read["events"] == ["booking.confirmed"] and read["enabled"] is True
    async with db() as session:
        stored = await session.scalar(
            select(WebhookEndpoint.secret_encrypted).where(WebhookEndpoint.id == endpoint["id"])
        )
    assert stored is not None and secret not in stored and secret[6:] not in stored
    assert unseal(stored, settings.webhook_secret_keys) == secret


async def test_update_and_delete(admin: httpx.AsyncClient, register: Register) -> None:
    endpoint = await register("shop")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    changed = await admin.patch(
        path,
        json={
            "url": "https://shop.example/hooks",
            "events": ["booking.cancelled"],
            "enabled": False,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["url"], body["events"], body["enabled"]) == (
        "https://shop.example/hooks",
        ["booking.cancelled"],
        False,
    )
    assert (await admin.get(path)).json() == body
    assert (await admin.delete(path)).status_code == 204
    gone = await admin.get(path)
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


async def test_bad_endpoints_are_refused_as_problems(admin: httpx.AsyncClient) -> None:
    cases = [
        {"url": "ftp://shop.example/hooks", "events": ["booking.created"]},
        {"url": "shop.example/hooks", "events": ["booking.created"]},
        {"url": "https://shop.example/hooks", "events": ["booking.teleported"]},
        {"url": "https://shop.example/hooks", "events": ["ping"]},
        {"url": "https://shop.example/hooks", "events": []},
    ]
    for body in cases:
        response = await admin.post("/v1/webhook-endpoints", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"], body
    assert (await admin.get("/v1/webhook-endpoints/not-a-uuid")).status_code == 404


async def test_clients_may_not_and_other_organisations_see_nothing(
    api: httpx.AsyncClient, api_url: str, register: Register
) -> None:
    endpoint = await register("shop")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert (await api.get("/v1/webhook-endpoints")).status_code == 403
    assert (await api.post(f"{path}/ping")).status_code == 403
    headers = {"Authorization": f"Bearer {OTHER_ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as other:
        assert all(
            e["id"] != endpoint["id"]
            for e in (await other.get("/v1/webhook-endpoints")).json()["items"]
        )
        for method, url in [
            ("GET", path),
            ("PATCH", path),
            ("DELETE", path),
            ("POST", f"{path}/ping"),
            ("GET", f"{path}/deliveries"),
            ("POST", f"{path}/deliveries/{endpoint['id']}/redeliver"),
        ]:
            response = await other.request(method, url, json={} if method == "PATCH" else None)
            assert response.status_code == 404, (method, url)
            assert response.json()["type"].endswith("webhook-endpoint-not-found")


async def test_an_organisation_has_a_bounded_number_of_endpoints(
    other_admin: httpx.AsyncClient, register: Register
) -> None:
    for n in range(MAX_ENDPOINTS_PER_ORGANISATION):
        await register(f"shop-{n}", events=["booking.created"], client=other_admin)
    refused = await other_admin.post(
        "/v1/webhook-endpoints",
        json={"url": "https://shop.example/one-too-many", "events": ["booking.created"]},
    )
    assert refused.status_code == 422
    assert str(MAX_ENDPOINTS_PER_ORGANISATION) in refused.json()["detail"]
