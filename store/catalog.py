"""Sessions and their places: creation, listing with availability, one session by id."""

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import SeatState, SessionKind, SessionStatus, VatTreatment
from core.errors import InvalidRequest, SessionNotFound, parse_id
from core.minimum_charge import MINIMUM_CHARGE, below_minimum, cheapest_group_total
from core.pricing import GroupDiscount
from models.tables import Organisation, Seat, Session
from store.organisations import DEFAULT_ORGANISATION_ID

MAX_PLACES_PER_SESSION = 10_000


@dataclass(frozen=True)
class SeatRow:
    """One row of a seat map: `label` "A" with `seats` 10 gives A1 to A10."""

    label: str
    seats: int


@dataclass
class SessionSpec:
    kind: SessionKind
    title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    price_amount: int
    # None: the organisation's default currency and time zone.
    currency: str | None = None
    time_zone: str | None = None
    capacity: int | None = None
    seat_map: list[SeatRow] = field(default_factory=list)
    hold_seconds: int = 600
    discount_min_quantity: int = 5
    discount_basis_points: int = 1000
    id: uuid.UUID | None = None
    # Who sells it; the default organisation when not given (tests, the bench, demo data).
    organisation_id: uuid.UUID | None = None
    # core.refund_policy tiers as stored; None: the default (full refund until the start).
    refund_policy: list[dict[str, int]] | None = None
    # The VAT its price includes (core.vat.applicable_vat_rate); a rate only with RATE.
    vat_treatment: VatTreatment = VatTreatment.ORGANISATION
    vat_rate_basis_points: int | None = None
    # The latest a booking may move away, in hours before the start; None: until the start.
    move_cutoff_hours: int | None = None
    # Its attendees who attended get a certificate of attendance.
    certifying: bool = False


@dataclass
class Availability:
    capacity: int
    held: int
    sold: int
    offered: int = 0  # held for waiting-list offers

    @property
    def available(self) -> int:
        return self.capacity - self.held - self.sold - self.offered


@dataclass
class SessionFilter:
    kind: SessionKind | None = None
    location: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
    text: str | None = None
    organisation_id: uuid.UUID | None = None


def seat_labels(spec: SessionSpec) -> list[str]:
    """Named seats from the map, or general-admission places GA-001... up to the capacity."""
    if spec.seat_map:
        rows = [row.label for row in spec.seat_map]
        if len(set(rows)) != len(rows):
            raise InvalidRequest("a row label is used twice in the seat map", rows=rows)
        labels = [f"{row.label}{n}" for row in spec.seat_map for n in range(1, row.seats + 1)]
    elif spec.capacity is None:
        raise InvalidRequest("a session needs a capacity or a seat map")
    else:
        labels = [f"GA-{n:03d}" for n in range(1, spec.capacity + 1)]
    if len(labels) > MAX_PLACES_PER_SESSION:
        raise InvalidRequest(f"a session has at most {MAX_PLACES_PER_SESSION} places")
    return labels


def check_price(spec: SessionSpec, currency: str) -> None:
    """Refuse a price, or a group discount, that would make Stripe refuse the charge (422 with
    the field named, as the API's validation errors); a price of 0 is a free session."""
    minimum = MINIMUM_CHARGE.get(currency.upper(), 0)
    if below_minimum(spec.price_amount, currency):
        _bad_price("price_amount", f"must be 0 (free) or at least {minimum} {currency}")
    discount = GroupDiscount(spec.discount_min_quantity, spec.discount_basis_points)
    total = cheapest_group_total(spec.price_amount, discount)
    if total is not None and below_minimum(total, currency):
        _bad_price(
            "group_discount",
            f"{spec.discount_min_quantity} places would cost {total} {currency}, "
            f"below the minimum charge of {minimum}",
        )


def _bad_price(field_name: str, message: str) -> None:
    raise InvalidRequest(
        f"{field_name} {message}", errors=[{"field": f"body.{field_name}", "message": message}]
    )


async def _with_defaults(db: AsyncSession, spec: SessionSpec) -> SessionSpec:
    """`spec` with its organisation's currency and time zone where it names none."""
    organisation_id = spec.organisation_id or DEFAULT_ORGANISATION_ID
    if spec.currency is not None and spec.time_zone is not None:
        return replace(spec, organisation_id=organisation_id)
    organisation = await db.get(Organisation, organisation_id)
    if organisation is None:
        raise InvalidRequest(f"no organisation {organisation_id}")
    return replace(
        spec,
        organisation_id=organisation_id,
        currency=spec.currency or organisation.default_currency,
        time_zone=spec.time_zone or organisation.time_zone,
    )


async def create_session(db: AsyncSession, spec: SessionSpec) -> Session:
    """Insert the session and one row per place; nothing is written if the id exists. A
    session naming no currency or time zone takes its organisation's."""
    spec = await _with_defaults(db, spec)
    assert spec.currency is not None and spec.time_zone is not None
    check_price(spec, spec.currency)
    labels = seat_labels(spec)
    if spec.capacity is not None and spec.capacity != len(labels):
        raise InvalidRequest("capacity must equal the number of seats in the seat map")
    session = Session(
        id=spec.id or uuid.uuid4(),
        organisation_id=spec.organisation_id,
        kind=spec.kind,
        title=spec.title,
        location=spec.location,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        capacity=len(labels),
        price_amount=spec.price_amount,
        currency=spec.currency,
        time_zone=spec.time_zone,
        hold_seconds=spec.hold_seconds,
        discount_min_quantity=spec.discount_min_quantity,
        discount_basis_points=spec.discount_basis_points,
        status=SessionStatus.SCHEDULED,
        refund_policy=spec.refund_policy,
        vat_treatment=spec.vat_treatment,
        vat_rate_basis_points=spec.vat_rate_basis_points,
        move_cutoff_hours=spec.move_cutoff_hours,
        certifying=spec.certifying,
    )
    db.add(session)
    await db.flush()
    await db.execute(
        insert(Seat),
        [
            {"session_id": session.id, "label": label, "position": i, "state": SeatState.FREE}
            for i, label in enumerate(labels)
        ],
    )
    return session


def _with_availability() -> Select[Session, int, int, int]:
    held = func.count(Seat.id).filter(Seat.state == SeatState.HELD)
    sold = func.count(Seat.id).filter(Seat.state == SeatState.SOLD)
    offered = func.count(Seat.id).filter(Seat.state == SeatState.OFFERED)
    return (
        select(Session, held.label("held"), sold.label("sold"), offered.label("offered"))
        .outerjoin(Seat, Seat.session_id == Session.id)
        .group_by(Session.id)
    )


async def get_session(
    db: AsyncSession, session_id: str, organisation_id: uuid.UUID | None = None
) -> tuple[Session, Availability]:
    """The session and its availability; with `organisation_id`, another organisation's session
    is SessionNotFound too, exactly as a missing one (its existence is not revealed)."""
    key = parse_id(session_id, SessionNotFound, "session")
    query = _with_availability().where(Session.id == key)
    if organisation_id is not None:
        query = query.where(Session.organisation_id == organisation_id)
    row = (await db.execute(query)).first()
    if row is None:
        raise SessionNotFound(f"session {session_id} does not exist")
    session, held, sold, offered = row
    return session, Availability(session.capacity, held, sold, offered)


class SessionLock(StrEnum):
    """How `session_of` locks the session's row until the transaction ends."""

    UPDATE = "update"  # FOR UPDATE
    # FOR NO KEY UPDATE: writers of the row wait, bookings referencing it (KEY SHARE) do not.
    NO_KEY_UPDATE = "no key update"


async def session_of(
    db: AsyncSession,
    session_id: str,
    organisation_id: uuid.UUID | None,
    *,
    lock: SessionLock | None = None,
) -> Session:
    """The session (of the organisation, when given: another's is SessionNotFound), its row
    locked by `lock`."""
    key = parse_id(session_id, SessionNotFound, "session")
    query = select(Session).where(Session.id == key)
    if organisation_id is not None:
        query = query.where(Session.organisation_id == organisation_id)
    if lock is not None:
        query = query.with_for_update(key_share=lock == SessionLock.NO_KEY_UPDATE)
    session = await db.scalar(query)
    if session is None:
        raise SessionNotFound(f"session {session_id} does not exist")
    return session


async def list_sessions(
    db: AsyncSession, where: SessionFilter, limit: int, offset: int
) -> tuple[list[tuple[Session, Availability]], int]:
    """One page of sessions in start order, and how many match in all."""
    conditions = []
    if where.organisation_id is not None:
        conditions.append(Session.organisation_id == where.organisation_id)
    if where.kind:
        conditions.append(Session.kind == where.kind)
    if where.location:
        conditions.append(Session.location.ilike(f"%{where.location}%"))
    if where.starts_after:
        conditions.append(Session.starts_at >= where.starts_after)
    if where.starts_before:
        conditions.append(Session.starts_at < where.starts_before)
    if where.text:
        pattern = f"%{where.text}%"
        conditions.append(or_(Session.title.ilike(pattern), Session.location.ilike(pattern)))
    matching = and_(True, *conditions)
    total = await db.scalar(select(func.count()).select_from(Session).where(matching))
    rows = await db.execute(
        _with_availability()
        .where(matching)
        .order_by(Session.starts_at, Session.id)
        .limit(limit)
        .offset(offset)
    )
    page = [(s, Availability(s.capacity, *counts)) for s, *counts in rows.all()]
    return page, total or 0
