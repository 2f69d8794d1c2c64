"""Shared steps of the waiting-list tests: join, read an entry, wait for its state, and let an
offer lapse now (its deadline moved to the present and the list nudged: its timer's work, with
no wait)."""

import uuid
from typing import Any

import httpx
from sqlalchemy import func, update

from activities.waiting_list_signals import nudge_waiting_list
from models.tables import WaitingListEntry
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack


def join_body(quantity: int, name: str) -> dict[str, Any]:
    return {"quantity": quantity, "customer": {"name": name, "email": f"{name}@example.com"}}


async def join(api: httpx.AsyncClient, session_id: str, quantity: int, name: str) -> str:
    response = await api.post(
        f"/v1/sessions/{session_id}/waiting-list",
        json=join_body(quantity, name),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def entry(api: httpx.AsyncClient, entry_id: str) -> dict[str, Any]:
    return (await api.get(f"/v1/waiting-list/{entry_id}")).json()  # type: ignore[no-any-return]


async def in_state(api: httpx.AsyncClient, entry_id: str, state: str) -> dict[str, Any]:
    return await eventually(
        lambda: entry(api, entry_id),
        lambda e: e["state"] == state,
        within=15,
        what=f"entry {state}",
    )


async def cancel(api: httpx.AsyncClient, booking: dict[str, Any]) -> None:
    response = await api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert response.status_code == 200, response.text


async def lapse_now(stack: Stack, session_id: str, entry_id: str) -> None:
    """The entry's open offer past its deadline from now on, and its list told."""
    async with stack.db.begin() as db:
        await db.execute(
            update(WaitingListEntry)
            .where(WaitingListEntry.id == uuid.UUID(entry_id))
            .values(offer_expires_at=func.now())
        )
    await nudge_waiting_list(stack.temporal, stack.settings.task_queue, session_id)
