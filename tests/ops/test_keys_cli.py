"""`booking-ops organisations` and `booking-ops keys` (issue 10): a key is made for an
organisation with its secret printed once and stored nowhere, works against the API for that
organisation only, is listed without a secret, and once revoked is refused."""

import uuid

import httpx
from sqlalchemy import text

from core.settings import Settings
from tests.helpers.api_bookings import course
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error


async def test_an_organisation_gets_a_key_that_works_until_revoked(stack: Stack) -> None:
    name = f"Org {uuid.uuid4().hex[:8]}"
    made = ok_json(await booking_ops(stack.settings, "organisations", "create", name, "--json"))
    assert made["name"] == name
    listed = ok_json(await booking_ops(stack.settings, "organisations", "list", "--json"))
    assert made["id"] in {o["id"] for o in listed}
    assert name in ok(await booking_ops(stack.settings, "organisations", "list"))

    created = await booking_ops(
        stack.settings, "keys", "create", "-o", name, "--role", "admin", "--name", "box office"
    )
    secret = secret_of(ok(created))
    assert secret.startswith("bk_")
    assert "shown only now" in created.stderr
    async with stack.db() as s:
        rows = await s.scalars(text("SELECT row_to_json(api_keys)::text FROM api_keys"))
        assert not [row for row in rows if secret[3:] in row]  # the database holds no secret

    keys = ok_json(await booking_ops(stack.settings, "keys", "list", "-o", made["id"], "--json"))
    [key] = keys
    assert (key["organisation"], key["role"], key["name"]) == (name, "admin", "box office")
    assert key["prefix"] == secret[3:11] and "secret" not in key and key["last_used_at"] is None
    table = ok(await booking_ops(stack.settings, "keys", "list"))
    assert key["id"] in table and secret not in table

    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=30) as api:
        created_session = await api.post("/v1/sessions", json=course())
        assert created_session.status_code == 201, created_session.text
        mine = (await api.get("/v1/sessions")).json()
        assert [s["id"] for s in mine["items"]] == [created_session.json()["id"]]
        [used] = ok_json(await booking_ops(stack.settings, "keys", "list", "-o", name, "--json"))
        assert used["last_used_at"] is not None

        revoked = ok(await booking_ops(stack.settings, "keys", "revoke", key["id"]))
        assert revoked.startswith(f"revoked key {key['id']} (box office)")
        assert (await api.get("/v1/sessions")).status_code == 401
    [gone] = ok_json(await booking_ops(stack.settings, "keys", "list", "-o", name, "--json"))
    assert gone["revoked_at"] is not None


async def test_a_key_with_its_own_rate_limit(settings: Settings) -> None:
    name = f"Org {uuid.uuid4()}"
    made = ok_json(await booking_ops(settings, "organisations", "create", name, "--json"))
    options = ["-o", made["id"], "--role", "client", "--name", "shop", "--rate-limit", "30"]
    key = ok_json(await booking_ops(settings, "keys", "create", *options, "--json"))
    assert (key["rate_limit_per_minute"], key["secret"][:3]) == (30, "bk_")


async def test_refusals_are_one_line(settings: Settings) -> None:
    missing = f"No such org {uuid.uuid4().hex[:6]}"
    create = ["keys", "create", "--name", "x", "-o"]
    unknown = await booking_ops(settings, *create, missing, "--role", "client")
    one_line_error(unknown, 2, "no organisation")
    one_line_error(await booking_ops(settings, *create, missing, "--role", "root"), 2, "root")
    one_line_error(await booking_ops(settings, "keys", "revoke", "not-a-uuid"), 2, "not a key id")
    one_line_error(await booking_ops(settings, "keys", "revoke", str(uuid.uuid4())), 1, "no key")
    name = f"Twice {uuid.uuid4().hex[:6]}"
    ok(await booking_ops(settings, "organisations", "create", name))
    one_line_error(await booking_ops(settings, "organisations", "create", name), 2, "exists")


async def test_a_door_key_from_the_command_line_reaches_only_the_door(stack: Stack) -> None:
    name = f"Org {uuid.uuid4().hex[:8]}"
    ok_json(await booking_ops(stack.settings, "organisations", "create", name, "--json"))
    created = await booking_ops(
        stack.settings, "keys", "create", "-o", name, "--role", "door", "--name", "front door"
    )
    secret = secret_of(ok(created))
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=30) as api:
        assert (await api.get("/v1/sessions")).status_code == 403
        # Past the role check: no such session in its organisation.
        door_list = await api.get(f"/v1/sessions/{uuid.uuid4()}/attendees")
        assert door_list.status_code == 404, door_list.text


def secret_of(output: str) -> str:
    """The new key's secret in `keys create`'s output."""
    [secret] = [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("secret")]
    return secret
