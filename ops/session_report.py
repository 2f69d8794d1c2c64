"""Sessions for people and scripts: a session with its places as JSON, as named facts and as a
row, and how many of its bookings are in each status."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import VatTreatment
from core.refund_policy import tiers_of
from documents.receipt_data import format_money
from models.tables import Booking, Session
from ops.readable import when
from store.catalog import Availability, get_session

COLUMNS = (
    "id",
    "kind",
    "title",
    "location",
    "starts (UTC)",
    "status",
    "held/sold/free",
    "price",
)


async def session_with_bookings(
    s: AsyncSession, session_id: str
) -> tuple[Session, Availability, dict[str, int]]:
    """The session, its places and how many of its bookings are in each status;
    SessionNotFound if there is none."""
    session, availability = await get_session(s, session_id)
    counted = await s.execute(
        select(Booking.status, func.count())
        .where(Booking.session_id == session.id)
        .group_by(Booking.status)
    )
    return session, availability, {status: n for status, n in counted.all()}


def as_json(session: Session, availability: Availability) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "kind": session.kind,
        "title": session.title,
        "location": session.location,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "status": session.status,
        "organisation_id": str(session.organisation_id),
        "price_amount": session.price_amount,
        "currency": session.currency,
        "time_zone": session.time_zone,
        "hold_seconds": session.hold_seconds,
        "vat_treatment": session.vat_treatment,
        "vat_rate_basis_points": session.vat_rate_basis_points,
        "refund_policy": [vars(tier) for tier in tiers_of(session.refund_policy)],
        "group_discount": (
            {
                "min_quantity": session.discount_min_quantity,
                "percent": session.discount_basis_points // 100,
            }
            if session.discount_basis_points
            else None
        ),
        "availability": {
            "capacity": availability.capacity,
            "held": availability.held,
            "sold": availability.sold,
            "available": availability.available,
        },
    }


def facts(session: Session, a: Availability) -> list[tuple[str, Any]]:
    """What the session is, as (name, value) pairs for people."""
    discount = (
        f"{session.discount_basis_points // 100}% off for {session.discount_min_quantity} or more"
        if session.discount_basis_points
        else "none"
    )
    return [
        ("id", session.id),
        ("title", session.title),
        ("kind", session.kind),
        ("location", session.location),
        ("starts", f"{when(session.starts_at)} UTC"),
        ("ends", f"{when(session.ends_at)} UTC"),
        ("time zone", session.time_zone),
        ("status", session.status),
        ("organisation", session.organisation_id),
        ("price", format_money(session.price_amount, session.currency)),
        ("group discount", discount),
        ("VAT", _vat(session)),
        ("hold", f"{session.hold_seconds} s"),
        ("places", f"{a.capacity}: {a.held} held, {a.sold} sold, {a.available} free"),
    ]


def _vat(session: Session) -> str:
    if session.vat_treatment == VatTreatment.RATE:
        return f"{(session.vat_rate_basis_points or 0) / 100:g} % (its own rate)"
    if session.vat_treatment == VatTreatment.NONE:
        return "none"
    return "the organisation's rate"


def table_row(session: Session, a: Availability) -> tuple[Any, ...]:
    """The session as a row under COLUMNS."""
    return (
        session.id,
        session.kind,
        session.title,
        session.location,
        when(session.starts_at),
        session.status,
        f"{a.held}/{a.sold}/{a.available} of {a.capacity}",
        format_money(session.price_amount, session.currency),
    )
