"""Demo sessions for `make dev`: first-aid courses in several places and one seated event."""

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalog import SeatRow, SessionSpec, create_session
from models.enums import SessionKind
from models.tables import Session

# Fixed ids: seeding twice finds the sessions it made the first time.
_NAMESPACE = uuid.UUID("6f1d3c2e-8f4b-4d5e-9a51-7c0de5eed000")

LOCATIONS = ["London", "Manchester", "Bristol", "Edinburgh"]


def demo_sessions(today: datetime) -> list[SessionSpec]:
    specs = []
    for week, location in enumerate(LOCATIONS, start=1):
        day = (today + timedelta(weeks=week)).date()
        starts = datetime.combine(day, time(9, 0), tzinfo=UTC)
        specs.append(
            SessionSpec(
                id=uuid.uuid5(_NAMESPACE, f"first-aid-{location}"),
                kind=SessionKind.COURSE,
                title="Emergency First Aid at Work",
                location=location,
                starts_at=starts,
                ends_at=starts + timedelta(hours=8),
                capacity=12,
                price_amount=7500,
                currency="GBP",
            )
        )
    concert = datetime.combine((today + timedelta(days=45)).date(), time(19, 30), tzinfo=UTC)
    specs.append(
        SessionSpec(
            id=uuid.uuid5(_NAMESPACE, "seated-event"),
            kind=SessionKind.SEATED,
            title="Resuscitation Council Annual Lecture",
            location="London, Conway Hall",
            starts_at=concert,
            ends_at=concert + timedelta(hours=2),
            seat_map=[SeatRow("A", 8), SeatRow("B", 10), SeatRow("C", 12)],
            price_amount=2500,
            currency="GBP",
            discount_basis_points=0,
        )
    )
    return specs


async def seed(db: AsyncSession, today: datetime) -> int:
    """Create the demo sessions that do not exist yet; returns how many were created."""
    specs = demo_sessions(today)
    existing = set(
        await db.scalars(select(Session.id).where(Session.id.in_([s.id for s in specs])))
    )
    created = 0
    for spec in specs:
        if spec.id not in existing:
            await create_session(db, spec)
            created += 1
    return created
