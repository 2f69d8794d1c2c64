"""Demo data for `make dev`: two organisations with fixed dev keys and profiles of their own; the
default one (its profile from the settings) sells first-aid courses in several places and one
seated event, Harbour Events a course of its own, paid into its connected Stripe account."""

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import Role, SessionKind
from models.tables import Organisation, Session
from store.api_keys import ensure_keys
from store.catalog import SeatRow, SessionSpec, create_session
from store.organisations import DEFAULT_ORGANISATION_ID, create_organisation, update_profile

# Fixed ids: seeding twice finds the sessions it made the first time.
_NAMESPACE = uuid.UUID("6f1d3c2e-8f4b-4d5e-9a51-7c0de5eed000")

LOCATIONS = ["London", "Manchester", "Bristol", "Edinburgh"]
# Every demo session happens in the UK: its times are UK clock times, GMT or BST.
UK = "Europe/London"

# README's walk-through uses these. Dev only: `api_key_pepper` is refused in production unless
# changed, which voids them.
OTHER_ORGANISATION_ID = uuid.uuid5(_NAMESPACE, "organisation-harbour-events")
OTHER_ORGANISATION_NAME = "Harbour Events"
# Its seller profile: documents in its own name, numbers of its own, payments into its own
# (localstripe) connected account. The VAT number is made up but well formed.
HARBOUR_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" width="120" height="40">'
    b'<rect width="120" height="40" rx="6" fill="#0b3d5c"/>'
    b'<path d="M8 28 q8 -8 16 0 t16 0 t16 0 t16 0 t16 0 t16 0" stroke="#7fd1e8" '
    b'stroke-width="3" fill="none"/></svg>'
)
HARBOUR_PROFILE: dict[str, Any] = {
    "legal_name": "Harbour Events Ltd",
    "address_lines": ["7 The Barbican", "Plymouth PL1 2LR", "United Kingdom"],
    "country": "GB",
    "tax_id": "GB 440 0000 37",
    "vat_rate_basis_points": 2000,
    "default_currency": "GBP",
    "locale": "en_GB",
    "time_zone": "Europe/London",
    "email_sender_name": "Harbour Events",
    "reply_to": "bookings@harbour-events.example",
    "footer": "Harbour Events Ltd, registered in England and Wales no. 09876543",
    "reference_prefix": "HBE",
    "receipt_prefix": "HBE-R",
    "credit_note_prefix": "HBE-CN",
    "logo": HARBOUR_LOGO,
    "logo_content_type": "image/svg+xml",
    "stripe_account_id": "acct_1HarbourEvents",
    # The platform's fee on each of its payments: 2.5 % and 20p (core/platform_fee.py).
    "platform_fee_basis_points": 250,
    "platform_fee_fixed": 20,
}
DEV_KEYS = {
    DEFAULT_ORGANISATION_ID: {"dev-client-key": Role.CLIENT, "dev-admin-key": Role.ADMIN},
    OTHER_ORGANISATION_ID: {
        "dev-other-client-key": Role.CLIENT,
        "dev-other-admin-key": Role.ADMIN,
    },
}


def demo_sessions(today: datetime) -> list[SessionSpec]:
    specs = []
    for week, location in enumerate(LOCATIONS, start=1):
        day = (today + timedelta(weeks=week)).date()
        starts = datetime.combine(day, time(9, 0), tzinfo=ZoneInfo(UK))
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
                time_zone=UK,
            )
        )
    concert = datetime.combine(
        (today + timedelta(days=45)).date(), time(19, 30), tzinfo=ZoneInfo(UK)
    )
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
            time_zone=UK,
            discount_basis_points=0,
        )
    )
    harbour = datetime.combine(
        (today + timedelta(days=20)).date(), time(10, 0), tzinfo=ZoneInfo(UK)
    )
    specs.append(
        SessionSpec(
            id=uuid.uuid5(_NAMESPACE, "harbour-sea-survival"),
            kind=SessionKind.COURSE,
            title="Sea Survival",
            location="Plymouth",
            starts_at=harbour,
            ends_at=harbour + timedelta(hours=6),
            capacity=10,
            price_amount=12000,
            currency="GBP",
            time_zone=UK,
            organisation_id=OTHER_ORGANISATION_ID,
        )
    )
    return specs


async def seed(db: AsyncSession, today: datetime, pepper: str) -> int:
    """Create the organisations, dev keys and demo sessions that do not exist yet; returns how
    many sessions were created."""
    harbour = await db.get(Organisation, OTHER_ORGANISATION_ID)
    if harbour is None:
        harbour = await create_organisation(db, OTHER_ORGANISATION_NAME, OTHER_ORGANISATION_ID)
    if harbour.profile_updated_at is None:  # never edited: an operator's changes stay
        await update_profile(db, harbour, HARBOUR_PROFILE)
    for organisation_id, keys in DEV_KEYS.items():
        await ensure_keys(db, organisation_id, keys, pepper)
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
