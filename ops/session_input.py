"""A session from `sessions create`'s options: each option read, the whole checked as
`POST /v1/sessions` checks it, then written. Bad input is a BadSessionInput that says what to
give."""

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import VatTreatment
from core.errors import BookingError
from models.tables import Organisation, Session
from ops.validation import problems
from schemas.sessions import SessionCreate
from store.catalog import SeatRow, SessionSpec, create_session


class BadSessionInput(ValueError):
    """The options do not make a session; the message says which and what to give."""


def session_spec(
    fields: dict[str, Any],
    *,
    seat_rows: Sequence[str],
    discount: str,
    refund_tiers: Sequence[str],
    organisation: str | None,
) -> SessionSpec:
    """The session to create from the options taken as they are (`fields`: kind, title, times,
    price ...) and those still text: rows LABEL=SEATS, discount MIN:PERCENT or none, refund
    tiers DAYS:PERCENT (none: no refund; none given: the default). BadSessionInput says
    what is wrong."""
    body = _session_body(
        **fields,
        seat_map=[_seat_row(row) for row in seat_rows],
        group_discount=_discount(discount),
        refund_policy=_refund_policy(refund_tiers),
    )
    return SessionSpec(
        **body.model_dump(exclude={"capacity", "seat_map", "group_discount", "refund_policy"}),
        capacity=body.capacity,
        seat_map=[SeatRow(row.label, row.seats) for row in body.seat_map],
        discount_min_quantity=body.group_discount.min_quantity if body.group_discount else 0,
        discount_basis_points=body.group_discount.percent * 100 if body.group_discount else 0,
        organisation_id=uuid.UUID(organisation) if organisation else None,
        refund_policy=[tier.model_dump() for tier in body.refund_policy],
    )


async def create(s: AsyncSession, spec: SessionSpec) -> Session:
    """The session written with its places; BadSessionInput for an unknown organisation or a
    session the catalogue refuses."""
    if spec.organisation_id and not await s.get(Organisation, spec.organisation_id):
        raise BadSessionInput(f"--organisation: no organisation {spec.organisation_id}")
    try:
        return await create_session(s, spec)
    except BookingError as err:
        raise BadSessionInput(f"bad session: {err.detail}") from None


def _session_body(**fields: Any) -> SessionCreate:
    try:
        return SessionCreate.model_validate(fields)
    except ValidationError as err:
        raise BadSessionInput(f"bad session: {problems(err, 'session')}") from None


def vat_fields(value: str) -> dict[str, Any]:
    """`--vat` as the session's vat_treatment and vat_rate_basis_points."""
    if value.strip().lower() in {VatTreatment.ORGANISATION, VatTreatment.NONE}:
        return {"vat_treatment": value.strip().lower(), "vat_rate_basis_points": None}
    if not value.isdigit():
        raise BadSessionInput(f"--vat {value!r}: give organisation, none or BASIS_POINTS, e.g. 500")
    return {"vat_treatment": VatTreatment.RATE, "vat_rate_basis_points": int(value)}


def _seat_row(value: str) -> dict[str, Any]:
    label, _, seats = value.partition("=")
    if not seats.isdigit():
        raise BadSessionInput(f"--seat-row {value!r}: give LABEL=SEATS, e.g. A=10")
    return {"label": label, "seats": int(seats)}


def _refund_policy(tiers: Sequence[str]) -> list[dict[str, int]]:
    if [tier.strip().lower() for tier in tiers] == ["none"]:
        return []
    return [_refund_tier(tier) for tier in tiers or ["0:100"]]


def _refund_tier(value: str) -> dict[str, int]:
    days, _, percent = value.partition(":")
    if not (days.isdigit() and percent.isdigit()):
        raise BadSessionInput(f"--refund-tier {value!r}: give DAYS:PERCENT, e.g. 14:100")
    return {"days_before": int(days), "percent": int(percent)}


def _discount(value: str) -> dict[str, int] | None:
    if value.strip().lower() == "none":
        return None
    minimum, _, percent = value.partition(":")
    if not (minimum.isdigit() and percent.isdigit()):
        raise BadSessionInput(f"--discount {value!r}: give MIN:PERCENT, e.g. 5:10, or none")
    return {"min_quantity": int(minimum), "percent": int(percent)}
