"""At rest, each answer a customer was given must still hold: a cancel answered 200 or 202 left
the booking closed (and as answered, for a 200), an accepted refund is recorded once, places
given back are gone and the rest no dearer, and an organiser's cancelled session leaves no
booking open and refunds in full every booking it closed."""

import asyncio
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.chaos.customers import Promise
from tests.chaos.deliveries import Final

OPEN = {"PENDING_PAYMENT", "CONFIRMED"}


async def finals(admin: httpx.AsyncClient, engine: AsyncEngine) -> list[Final]:
    """Every booking as the API shows it at rest, with its refunds oldest first."""
    async with engine.connect() as db:
        ids = (await db.execute(text("SELECT id::text FROM bookings ORDER BY 1"))).scalars()
    limit = asyncio.Semaphore(8)

    async def one(booking_id: str) -> Final:
        async with limit:
            view = await admin.get(f"/v1/bookings/{booking_id}")
            refunds = await admin.get(f"/v1/bookings/{booking_id}/refunds")
        assert view.status_code == refunds.status_code == 200, (view.text, refunds.text)
        return view.json(), sorted(refunds.json(), key=lambda r: r["sequence"])

    return list(await asyncio.gather(*(one(booking_id) for booking_id in ids)))


def broken_promises(promises: list[Promise], at_rest: list[Final]) -> list[str]:
    by_id = {view["id"]: (view, refunds) for view, refunds in at_rest}
    broken = []
    for promise in promises:
        if promise.kind == "session":
            continue  # checked against the database: see `cancelled_session_left`
        view, refunds = by_id[promise.booking_id]
        check = {"cancel": _cancel, "refund": _refund, "places": _places}[promise.kind]
        if problem := check(promise, view, refunds):
            what = f"{promise.kind} answered {promise.status}"
            broken.append(f"{what} {promise.booking_id}: {problem}")
    return broken


def _cancel(promise: Promise, view: dict[str, Any], refunds: list[dict[str, Any]]) -> str | None:
    answered, now = promise.answer["status"], view["status"]
    if now in OPEN:
        return f"the booking is {now} at rest (the answer said {answered})"
    if promise.status == 200 and now != answered:
        return f"the answer said {answered}, the booking is {now} at rest"
    return None


def _refund(promise: Promise, view: dict[str, Any], refunds: list[dict[str, Any]]) -> str | None:
    amount, reason = promise.detail["amount"], promise.detail["reason"]
    found = [r["amount"] for r in refunds if r["reason"] == reason]
    if found != [amount]:
        return f"refund of {amount} ({reason!r}) recorded as {found} (once, that amount)"
    if promise.status == 200 and promise.answer["amount_refunded"] < amount:
        return f"the answer shows {promise.answer['amount_refunded']} refunded, under {amount}"
    return None


def _places(promise: Promise, view: dict[str, Any], refunds: list[dict[str, Any]]) -> str | None:
    before, named, count = (promise.detail[k] for k in ("before", "seats", "count"))
    if promise.status == 200 and promise.answer["amount_total"] > promise.detail["total"]:
        return (
            f"the {len(before) - count} places kept cost {promise.answer['amount_total']}, "
            f"more than the {promise.detail['total']} paid for {len(before)}"
        )
    if view["status"] != "CONFIRMED":
        return None  # ended since (a cancel, a refund of the rest, the session cancelled)
    kept = view["seats"]
    if len(kept) != len(before) - count or set(named) & set(kept):
        return f"gave back {named or count} of {before}, still holds {kept} at rest"
    if promise.status == 200 and sorted(promise.answer["seats"]) != sorted(kept):
        return f"the answer kept {promise.answer['seats']}, the booking holds {kept} at rest"
    return None


async def cancelled_session_left(
    engine: AsyncEngine, session_id: str, asked_at: datetime
) -> list[str]:
    """The organiser's cancellation outranks the customers': nothing of the session is open,
    and every confirmed booking it closed (closed after it was asked) got back all it paid: its
    `amount_paid`, or `amount_total` while no places were given back. (Money that came for a
    booking never confirmed is a late payment: the checker holds it to a full refund.)"""
    query = text(
        "SELECT id::text, status, confirmed_at IS NOT NULL, coalesce(amount_paid, amount_total),"
        " amount_refunded, updated_at FROM bookings WHERE session_id = :session"
    )
    async with engine.connect() as db:
        rows = (await db.execute(query, {"session": session_id})).all()
    found = []
    for booking_id, status, confirmed, paid, refunded, updated in rows:
        if status in OPEN:
            found.append(f"session {session_id} cancelled, its booking {booking_id} is {status}")
        elif confirmed and updated >= asked_at and refunded != paid:
            found.append(
                f"session {session_id} cancelled, its booking {booking_id} ended {status} "
                f"after it with {refunded} of {paid} refunded (not in full)"
            )
    return found
