"""At the door through the API: free sessions about to end, free bookings confirmed, their
tickets' codes, scans."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core.tickets import Ticket, sign
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.helpers.api_bookings import booking_body, wait_for_status
from tests.helpers.sellers import session_of
from tests.helpers.stack import Stack


async def ending_soon(stack: Stack, starts_in: int, **values: Any) -> tuple[str, datetime]:
    """A free session of the default organisation that starts in `starts_in` seconds and lasts
    one (`values` written over it), and its end."""
    starts = (datetime.now(UTC) + timedelta(seconds=starts_in)).replace(microsecond=0)
    ends = starts + timedelta(seconds=1)
    session_id = await session_of(
        stack.db, DEFAULT_ORGANISATION_ID, starts_at=starts, ends_at=ends, price_amount=0, **values
    )
    return session_id, ends


async def book(stack: Stack, session_id: str, places: int, **extra: Any) -> dict[str, Any]:
    response = await stack.api.post(
        "/v1/bookings",
        json=booking_body(session_id, places, **extra),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def confirmed(stack: Stack, session_id: str, places: int, **extra: Any) -> dict[str, Any]:
    """A free booking: confirmed with no payment."""
    booking = await book(stack, session_id, places, **extra)
    return await wait_for_status(stack.api, booking["id"], "CONFIRMED")


def code(stack: Stack, session_id: str, booking_id: str, index: int = 0) -> str:
    ticket = Ticket(DEFAULT_ORGANISATION_ID, uuid.UUID(session_id), uuid.UUID(booking_id), index)
    return sign(ticket, stack.settings.ticket_signing_keys)


async def scan(
    stack: Stack, session_id: str, ticket_code: str, headers: dict[str, str]
) -> httpx.Response:
    path = f"/v1/sessions/{session_id}/check-ins"
    return await stack.api.post(path, json={"code": ticket_code}, headers=headers)
