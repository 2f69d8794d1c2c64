"""Some places of a free booking moved (`move` with `count`) to another free session: the
booking split off claims nothing and has no receipt (docs/api.md: no receipt for money handed
over, and none was), and reconcile owes it none. Found by the money-path property test, whose
teardown no longer makes an exception for it."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from models.tables import Session
from tests.helpers.api_bookings import session_with, start_booking
from tests.helpers.consistency import Check, World, at_rest
from tests.helpers.stack import Stack


async def _free_session(stack: Stack) -> str:
    session_id = await session_with(stack.api, datetime.now(UTC) + timedelta(days=30))
    async with stack.db.begin() as s:
        await s.execute(
            update(Session).where(Session.id == uuid.UUID(session_id)).values(price_amount=0)
        )
    return session_id


async def test_a_partial_move_of_a_free_booking_leaves_reconcile_clean(
    stack: Stack, run_check: Check
) -> None:
    source, target = await _free_session(stack), await _free_session(stack)
    first = await start_booking(stack.api, source, 2)
    assert (first["status"], first["amount_total"]) == ("CONFIRMED", 0), first

    moved = await stack.api.post(
        f"/v1/bookings/{first['id']}/move",
        json={"session_id": target, "count": 1},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )

    assert moved.status_code == 200, moved.text
    kept = moved.json()
    split = (await stack.api.get(f"/v1/bookings/{kept['moved_to']}")).json()
    assert (split["status"], split["split_from"]) == ("CONFIRMED", first["id"]), split
    world = World([source, target], {"first": kept, "split": split})
    await at_rest(stack.db, world)
    report = await run_check(world)
    assert report.ok, report.violations
