"""One normalisation of email addresses (issue 17, case 6): a customer typed one way is found
typed any other way, by export, erasure and the booking list alike, including the addresses
PostgreSQL's `lower()` and Python's `casefold()` fold differently; old rows are backfilled by
the same function."""

import uuid

import httpx

from core.customer_hash import normalise_email
from devstack.postgres import Cluster
from tests.api.conftest import ADMIN
from tests.conftest import SessionFactory
from tests.helpers.api_bookings import booking_body, erase_at_rest
from tests.helpers.database import alembic, scratch_database

# (as booked, as asked for): each pair folds to one address.
SPELLINGS = [
    ("straße.{tag}@example.com", "STRASSE.{tag}@example.com"),
    ("İnci.{tag}@example.com", "i̇nci.{tag}@EXAMPLE.com"),
    ("ﬁle.{tag}@example.com", "FILE.{tag}@example.com"),
    ("  Mixed.Case.{tag}@Example.COM ", "mixed.case.{tag}@example.com"),
]


async def closed_booking(api: httpx.AsyncClient, session_id: str, email: str) -> str:
    body = booking_body(session_id, customer={"name": "Ada Lovelace", "email": email})
    made = await api.post("/v1/bookings", json=body)
    assert made.status_code == 201, made.text
    booking_id: str = made.json()["id"]
    assert (await api.post(f"/v1/bookings/{booking_id}/cancel")).status_code == 200
    return booking_id


async def test_export_erasure_and_the_list_find_every_spelling_of_an_address(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=len(SPELLINGS))
    tag = uuid.uuid4().hex[:8]
    for booked, asked in SPELLINGS:
        booked, asked = booked.format(tag=tag), asked.format(tag=tag)
        booking_id = await closed_booking(api, session_id, booked)

        exported = await api.post("/v1/customers/export", json={"email": asked}, headers=ADMIN)
        assert [b["id"] for b in exported.json()["bookings"]] == [booking_id], asked
        listed = await api.get("/v1/bookings", params={"customer_email": asked})
        assert [b["id"] for b in listed.json()["items"]] == [booking_id], asked

        erased = await erase_at_rest(api, asked, booking_id)
        assert erased["erased"] == [booking_id], (asked, erased)
        assert (await api.get(f"/v1/bookings/{booking_id}")).json()["customer"]["name"] == "erased"
        listed = await api.get("/v1/bookings", params={"customer_email": booked.strip()})
        assert listed.json()["items"] == []  # the address is gone, its normalised form too


def test_migration_0010_backfills_with_the_function_and_keeps_updated_at(
    postgres: Cluster,
) -> None:
    session_id = uuid.uuid4()
    addresses = {uuid.uuid4(): booked.format(tag="old") for booked, _ in SPELLINGS}
    with scratch_database(postgres) as (url, sql):
        alembic(url, "upgrade", "0008")
        sql(
            "INSERT INTO sessions (id, organisation_id, kind, title, location, starts_at, ends_at,"
            " capacity, price_amount, currency, hold_seconds, discount_min_quantity,"
            " discount_basis_points, status) SELECT"
            f" '{session_id}', id, 'course', 'T', 'Leeds', '2031-01-01 09:00Z',"
            " '2031-01-01 17:00Z', 4, 1000, 'GBP', 600, 5, 0, 'scheduled'"
            " FROM organisations LIMIT 1"
        )
        for booking_id, email in addresses.items():
            sql(
                "INSERT INTO bookings (id, session_id, customer_name, customer_email, attendees,"
                " quantity, seat_labels, amount_subtotal, discount, amount_total, currency,"
                " status, hold_expires_at, request_fingerprint, updated_at) VALUES"
                f" ('{booking_id}', '{session_id}', 'Ada', '{email}', '[]', 1, '[]', 1000, 0,"
                " 1000, 'GBP', 'CANCELLED', now(), 'f', '2026-01-01Z')"
            )
        alembic(url, "upgrade", "head")

        for booking_id, email in addresses.items():
            stored = sql(
                "SELECT customer_email_normalised || '|' || (updated_at = '2026-01-01Z')"
                f" FROM bookings WHERE id = '{booking_id}'"
            )
            assert stored == f"{normalise_email(email)}|true"
        alembic(url, "downgrade", "0008")
        alembic(url, "upgrade", "head")
        assert sql("SELECT count(*) FROM bookings WHERE customer_email_normalised IS NULL") == "0"
