"""The organisation's seller profile (issue 19): `GET/PATCH /v1/organisation` with an admin key,
each refusal a 422 naming its field (or a 409 for a prefix in use) that changes nothing, the
logo served back, and sessions taking the organisation's currency, time zone and VAT.

Each test makes organisations of its own: the default organisation's profile, which the rest
of the suite prints, is never changed here."""

import base64
import hashlib
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import Role
from core.settings import Settings
from core.stripe_accounts import ACCOUNT_ID
from models.tables import Organisation
from schemas.organisations import OrganisationPatch, profile_changes
from store.api_keys import create_key
from store.demo_data import HARBOUR_LOGO, HARBOUR_PROFILE
from store.organisations import PlatformDefaults, create_organisation
from store.sequences import next_reference
from tests.conftest import OTHER_ADMIN_KEY, api_client
from tests.helpers.api_bookings import course, invalid_fields

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40"/></svg>'
HARBOUR = {
    "legal_name": "Harbour Events Ltd",
    "address_lines": ["3 Quay Road", "Cork T12 X2Y3", "Ireland"],
    "country": "IE",
    "tax_id": "IE6388047V",
    "vat_rate_basis_points": 2300,
    "default_currency": "EUR",
    "locale": "en_IE",
    "time_zone": "Europe/Dublin",
    "email_sender_name": "Harbour Events",
    "reply_to": "hello@harbour.example",
    "footer": "Registered in Ireland",
}


def png(width: int = 8, height: int = 4) -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(image, "PNG")
    return image.getvalue()


def logo(data: bytes, content_type: str = "image/png") -> dict[str, str]:
    return {"content_type": content_type, "data": base64.b64encode(data).decode()}


@pytest.fixture
def new_admin(
    settings: Settings, db: async_sessionmaker[AsyncSession], api_url: str
) -> Callable[[Role], Awaitable[httpx.AsyncClient]]:
    """A new organisation's key of the given role, as a client of the API."""

    async def make(role: Role = Role.ADMIN) -> httpx.AsyncClient:
        async with db.begin() as s:
            name = f"Profile {uuid.uuid4().hex[:10]}"
            organisation = await create_organisation(s, name, defaults=PlatformDefaults())
            _, secret = await create_key(s, organisation.id, role, "tests", settings.api_key_pepper)
        return api_client(api_url, secret)

    return make


@pytest.fixture
async def admin(
    new_admin: Callable[[Role], Awaitable[httpx.AsyncClient]],
) -> AsyncIterator[httpx.AsyncClient]:
    async with await new_admin(Role.ADMIN) as client:
        yield client


async def profile(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/v1/organisation")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_a_profile_is_read_changed_in_part_and_read_back(admin: httpx.AsyncClient) -> None:
    before = await profile(admin)
    assert before["legal_name"] == before["name"] and before["vat_rate_basis_points"] is None
    assert before["logo"] is None and before["profile_updated_at"] is None
    assert before["stripe_account_id"] is None
    assert before["platform_fee"] == {"basis_points": 0, "fixed": 0}

    changed = await admin.patch("/v1/organisation", json=HARBOUR)
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert {name: after[name] for name in HARBOUR} == HARBOUR
    assert after["name"] == before["name"] and after["profile_updated_at"] is not None
    assert after == await profile(admin)

    # Partial: only the prefixes change; null takes away what may be taken away.
    prefix = f"T{uuid.uuid4().hex[:6].upper()}"
    prefixes = {"reference_prefix": prefix, "receipt_prefix": f"{prefix}-R"}
    again = await admin.patch(
        "/v1/organisation", json={**prefixes, "footer": None, "vat_rate_basis_points": None}
    )
    assert again.status_code == 200, again.text
    expected = after | prefixes | {"footer": None, "vat_rate_basis_points": None}
    assert again.json() | {"profile_updated_at": None} == expected | {"profile_updated_at": None}
    assert again.json()["profile_updated_at"] >= after["profile_updated_at"]


async def test_a_logo_is_stored_served_and_removed(admin: httpx.AsyncClient) -> None:
    image = png()
    changed = await admin.patch("/v1/organisation", json={"logo": logo(image)})
    assert changed.status_code == 200, changed.text
    assert changed.json()["logo"] == {
        "content_type": "image/png",
        "bytes": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
    }
    served = await admin.get("/v1/organisation/logo")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == image

    svg = await admin.patch("/v1/organisation", json={"logo": logo(SVG, "image/svg+xml")})
    assert svg.status_code == 200, svg.text
    assert (await admin.get("/v1/organisation/logo")).content == SVG
    kept = await admin.patch("/v1/organisation", json={"footer": "with a logo"})
    assert kept.status_code == 200 and kept.json()["logo"]["bytes"] == len(SVG), kept.text

    removed = await admin.patch("/v1/organisation", json={"logo": None})
    assert removed.status_code == 200 and removed.json()["logo"] is None
    gone = await admin.get("/v1/organisation/logo")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
)
EXTERNAL_ENTITY = (
    b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
)


@pytest.mark.parametrize(
    ("patch", "field", "says"),
    [
        ({"country": "XY"}, "body.country", "unknown country"),
        ({"country": "gb"}, "body.country", "pattern"),
        ({"country": "GB", "tax_id": "GB 123 4567 80"}, "body.tax_id", "for GB"),
        ({"country": "IE", "tax_id": "GB980780684"}, "body.tax_id", "for IE"),
        ({"tax_id": "GB980780684"}, "body.tax_id", "needs the organisation's country"),
        ({"vat_rate_basis_points": 2000}, "body.vat_rate_basis_points", "needs a tax_id"),
        ({"vat_rate_basis_points": 10001}, "body.vat_rate_basis_points", "10000"),
        ({"default_currency": "ABC"}, "body.default_currency", "unknown currency"),
        ({"locale": "xx_YY"}, "body.locale", "unknown locale"),
        ({"time_zone": "Mars/Olympus"}, "body.time_zone", "unknown IANA time zone"),
        ({"reply_to": "not an address"}, "body.reply_to", "email"),
        ({"legal_name": None}, "body.legal_name", "string"),
        ({"reference_prefix": "ab"}, "body.reference_prefix", "pattern"),
        (
            {"receipt_prefix": "X1", "credit_note_prefix": "X1"},
            "body.credit_note_prefix",
            "receipt_prefix",
        ),
        ({"address_lines": ["a"] * 7}, "body.address_lines", "at most 6"),
        ({"footer": "two\nlines"}, "body.footer", "control character"),
        ({"logo": logo(b"GIF89a not a logo")}, "body.logo", "PNG"),
        ({"logo": logo(b"plain text", "image/svg+xml")}, "body.logo", "well-formed SVG"),
        ({"logo": logo(png()[:40])}, "body.logo", "readable PNG"),
        ({"logo": logo(png(5000, 1))}, "body.logo", "pixels"),
        ({"logo": logo(b"\x89PNG\r\n\x1a\n" + b"0" * 300_000)}, "body.logo.data", "larger"),
        ({"logo": logo(BILLION_LAUGHS, "image/svg+xml")}, "body.logo", "DTD"),
        ({"logo": logo(EXTERNAL_ENTITY, "image/svg+xml")}, "body.logo", "DTD"),
        ({"logo": {"content_type": "image/png", "data": "@@@"}}, "body.logo.data", "base64"),
        ({"name": "Renamed"}, "body.name", "Extra inputs"),
    ],
)
async def test_a_refused_change_names_its_field_and_changes_nothing(
    admin: httpx.AsyncClient, patch: dict[str, Any], field: str, says: str
) -> None:
    before = await profile(admin)
    # A valid field alongside: refused with the rest, it changes nothing either.
    refused = await admin.patch("/v1/organisation", json={"footer": "changed", **patch})
    assert field in invalid_fields(refused), refused.text
    [error] = [e for e in refused.json()["errors"] if e["field"] == field]
    assert says in error["message"], error
    assert await profile(admin) == before


async def test_a_vat_number_is_checked_for_the_country_it_will_have(
    admin: httpx.AsyncClient,
) -> None:
    registered = await admin.patch(
        "/v1/organisation",
        json={"country": "GB", "tax_id": "GB980780684", "vat_rate_basis_points": 2000},
    )
    assert registered.status_code == 200, registered.text
    moved = await admin.patch("/v1/organisation", json={"country": "IE"})
    assert invalid_fields(moved) == {"body.tax_id"}
    assert "not a valid VAT number for IE" in moved.json()["detail"]
    dropped = await admin.patch("/v1/organisation", json={"tax_id": None})
    assert invalid_fields(dropped) == {"body.vat_rate_basis_points"}
    unregistered = await admin.patch(
        "/v1/organisation", json={"tax_id": None, "vat_rate_basis_points": None}
    )
    assert unregistered.status_code == 200, unregistered.text


async def test_a_prefix_another_organisation_uses_in_any_role_is_a_conflict(
    admin: httpx.AsyncClient,
) -> None:
    before = await profile(admin)
    # The other test organisation's receipt prefix, asked for as a reference prefix.
    clash = await admin.patch(
        "/v1/organisation", json={"reference_prefix": "OO-R", "footer": "changed"}
    )
    assert clash.status_code == 409, clash.text
    assert clash.headers["content-type"] == "application/problem+json"
    problem = clash.json()
    assert problem["type"].endswith(":prefix-in-use")
    assert "reference_prefix 'OO-R'" in problem["detail"]
    assert problem["errors"] == [
        {"field": "body.reference_prefix", "message": "is used by another organisation"}
    ]
    assert await profile(admin) == before
    own = await admin.patch("/v1/organisation", json={"receipt_prefix": before["reference_prefix"]})
    assert invalid_fields(own) == {"body.receipt_prefix"}
    own = await admin.patch("/v1/organisation", json={"reference_prefix": before["receipt_prefix"]})
    assert invalid_fields(own) == {"body.reference_prefix"}


async def test_only_an_admin_key_and_only_its_own_organisation(
    admin: httpx.AsyncClient,
    new_admin: Callable[[Role], Awaitable[httpx.AsyncClient]],
    api: httpx.AsyncClient,
) -> None:
    for method, path in [
        ("GET", "/v1/organisation"),
        ("PATCH", "/v1/organisation"),
        ("GET", "/v1/organisation/logo"),
    ]:
        answer = await api.request(method, path, json={} if method == "PATCH" else None)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    async with await new_admin(Role.CLIENT) as client:
        assert (await client.get("/v1/organisation")).status_code == 403

    mine = await admin.patch("/v1/organisation", json={"legal_name": "Mine Ltd"})
    assert mine.status_code == 200, mine.text
    async with api_client(str(admin.base_url), OTHER_ADMIN_KEY) as other:
        theirs = await profile(other)
    assert theirs["name"] == "Other Organiser" and theirs["legal_name"] != "Mine Ltd"
    assert theirs["id"] != mine.json()["id"]


async def test_sessions_take_the_organisations_defaults_and_their_own_vat(
    admin: httpx.AsyncClient,
) -> None:
    changed = await admin.patch(
        "/v1/organisation", json={"default_currency": "EUR", "time_zone": "Europe/Dublin"}
    )
    assert changed.status_code == 200, changed.text
    body = {k: v for k, v in course().items() if k != "currency"}
    made = await admin.post("/v1/sessions", json=body)
    assert made.status_code == 201, made.text
    session = made.json()
    assert (session["currency"], session["time_zone"]) == ("EUR", "Europe/Dublin")
    assert (session["vat_treatment"], session["vat_rate_basis_points"]) == ("organisation", None)

    own = await admin.post(
        "/v1/sessions",
        json=course(time_zone="UTC", vat_treatment="rate", vat_rate_basis_points=0),
    )
    assert own.status_code == 201, own.text
    assert (own.json()["currency"], own.json()["time_zone"]) == ("GBP", "UTC")
    read = await admin.get(f"/v1/sessions/{own.json()['id']}")
    assert (read.json()["vat_treatment"], read.json()["vat_rate_basis_points"]) == ("rate", 0)
    none = await admin.post("/v1/sessions", json=course(vat_treatment="none"))
    assert none.status_code == 201 and none.json()["vat_treatment"] == "none"

    wrongs: list[dict[str, Any]] = [{"vat_treatment": "rate"}, {"vat_rate_basis_points": 500}]
    for wrong in wrongs:
        refused = await admin.post("/v1/sessions", json=course(**wrong))
        assert invalid_fields(refused) == {"body"}, refused.text


def test_the_demo_profile_passes_the_apis_checks() -> None:
    """`make dev` writes Harbour Events' profile straight to the database: it must be one the
    API would have taken."""
    fields = {k: v for k, v in HARBOUR_PROFILE.items() if k not in _NOT_IN_A_PATCH}
    fields["logo"] = logo(HARBOUR_LOGO, str(HARBOUR_PROFILE["logo_content_type"]))
    blank = Organisation(reference_prefix="A", receipt_prefix="B", credit_note_prefix="C")
    changes = profile_changes(blank, OrganisationPatch.model_validate(fields))
    assert changes == {k: v for k, v in HARBOUR_PROFILE.items() if k not in _SET_BY_AN_OPERATOR}
    # and an account id Stripe (and localstripe, in `make dev`) would take
    assert ACCOUNT_ID.fullmatch(str(HARBOUR_PROFILE["stripe_account_id"]))


# The connected account and the platform's fee: `booking-ops organisations set-stripe-account`.
_SET_BY_AN_OPERATOR = {"stripe_account_id", "platform_fee_basis_points", "platform_fee_fixed"}
_NOT_IN_A_PATCH = {"logo", "logo_content_type", *_SET_BY_AN_OPERATOR}


async def test_a_new_prefix_continues_the_numbers(
    admin: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    organisation_id = uuid.UUID((await profile(admin))["id"])
    async with db() as s:
        first = await next_reference(s, await s.get_one(Organisation, organisation_id), 2031)
        await s.commit()
    prefix = f"N{uuid.uuid4().hex[:6].upper()}"
    changed = await admin.patch("/v1/organisation", json={"reference_prefix": prefix})
    assert changed.status_code == 200, changed.text
    async with db() as s:
        second = await next_reference(s, await s.get_one(Organisation, organisation_id), 2031)
        await s.commit()
    assert first.endswith("-2031-0001") and second == f"{prefix}-2031-0002"
