"""In production a booking is refused while its organisation's seller profile could not be
printed in full on the receipt (issue 20): the problem names what is missing, nothing starts;
completed, the same request books. Elsewhere (dev, tests) an incomplete profile still sells."""

import uuid

import httpx
from sqlalchemy import func, select
from temporalio.client import Client

from models.tables import Booking
from tests.api.conftest import VariantFactory
from tests.conftest import OTHER_ORGANISATION_ID
from tests.helpers.api_bookings import booking_body, start_booking
from tests.helpers.sellers import seller_profile, session_of
from tests.helpers.stack import Stack


async def test_production_sells_only_for_a_complete_seller(
    stack: Stack, api_variant: VariantFactory, other_api: httpx.AsyncClient
) -> None:
    session_id = await session_of(stack.db, OTHER_ORGANISATION_ID)
    incomplete: dict[str, object] = {
        "address_lines": [],
        "country": None,
        "vat_rate_basis_points": 2000,
    }
    async with (
        seller_profile(stack.db, OTHER_ORGANISATION_ID, tax_id=None, **incomplete),
        api_variant(env="production") as production,
    ):
        key = str(uuid.uuid4())
        answer = await production.post(
            "/v1/bookings",
            json=booking_body(session_id),
            headers={"Idempotency-Key": key, "Authorization": other_api.headers["Authorization"]},
        )
        assert answer.status_code == 409, answer.text
        problem = answer.json()
        assert problem["type"].endswith("seller-profile-incomplete")
        assert [e["field"] for e in problem["errors"]] == ["address_lines", "country", "tax_id"]
        assert await _bookings_of(stack, session_id) == 0
        assert not await _workflows_of(stack.temporal, session_id)
        # Outside production the same organisation still sells (tests, dev's demo data).
        await start_booking(other_api, session_id)
    complete_but_not_vat_registered: dict[str, object] = {
        "address_lines": ["1 Grand Parade", "Cork"],
        "country": "IE",
        "vat_rate_basis_points": None,
        "tax_id": None,
    }
    async with (
        seller_profile(stack.db, OTHER_ORGANISATION_ID, **complete_but_not_vat_registered),
        api_variant(env="production") as production,
    ):
        production.headers["Authorization"] = other_api.headers["Authorization"]
        booked = await start_booking(production, session_id)  # not registered: no VAT number due
        assert booked["status"] == "PENDING_PAYMENT"


async def _bookings_of(stack: Stack, session_id: str) -> int:
    async with stack.db() as s:
        count = await s.scalar(
            select(func.count()).where(Booking.session_id == uuid.UUID(session_id))
        )
    return count or 0


async def _workflows_of(temporal: Client, session_id: str) -> list[str]:
    return [w.id async for w in temporal.list_workflows(f'SessionId = "{session_id}"')]
