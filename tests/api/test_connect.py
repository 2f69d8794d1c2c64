"""An organisation paid into its own Stripe account, through the API with the real worker and
localstripe: its bookings are paid, partly refunded and cancelled in that account, with the
platform's fee, while the platform's bookings behave as before; and a signed event whose
account does not own the booking it names changes nothing."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.platform_fee import platform_fee
from devstack.pay import pay
from messages.booking import booking_workflow_id
from models.tables import Booking, Receipt, StripeEvent
from tests.conftest import SessionFactory, api_client
from tests.helpers.api_bookings import start_booking, wait_for_status
from tests.helpers.connect import (
    FEE_BASIS_POINTS,
    FEE_FIXED,
    Connected,
    new_account,
    organiser,
)
from tests.helpers.polling import eventually
from tests.helpers.sellers import pdftotext, session_of
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import recorded, signed_event

Db = async_sessionmaker[AsyncSession]
Json = dict[str, Any]
PRICE = 7500


async def refunds_at(
    stripe_client: stripe.StripeClient, booking: Json, account: str | None
) -> list[int]:
    page = await stripe_client.v1.refunds.list_async(
        {"payment_intent": booking["payment"]["payment_intent_id"]}, {"stripe_account": account}
    )
    return sorted(r.amount for r in page.data)


async def row_of(db: Db, booking_id: str) -> Booking:
    async with db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None
    return row


async def payment_signals(temporal: Client, booking_id: str) -> int:
    """How many `payment_event` signals the booking's workflow has had."""
    history = await temporal.get_workflow_handle(booking_workflow_id(booking_id)).fetch_history()
    return sum(
        event.workflow_execution_signaled_event_attributes.signal_name == "payment_event"
        for event in history.events
    )


# Two sellers as their admins set them up (PATCH /v1/organisation): each document names its own.
PROFILES: tuple[Json, ...] = (
    {
        "legal_name": "Harbour Events Ltd",
        "address_lines": ["3 The Barbican", "Plymouth PL1 2LS"],
        "country": "GB",
        "tax_id": "GB 440 0000 37",
        "vat_rate_basis_points": 2000,
    },
    {
        "legal_name": "Rescue Training CLG",
        "address_lines": ["1 Grand Parade", "Cork T12 X2E3"],
        "country": "IE",
        "tax_id": "IE6388047V",
        "vat_rate_basis_points": 2300,
    },
)


async def test_two_organisations_are_paid_refunded_and_cancelled_each_in_its_account(
    stack: Stack,
) -> None:
    """Three bookings of each, at once: each payment, fee and refund in its own account; each
    document in its seller's name and VAT, and each sequence of references and document
    numbers the organisation's own, gapless; a later profile change leaves them as issued."""
    async with (
        organiser(stack.db, stack.settings, stack.api_url) as (harbour, harbour_api),
        organiser(stack.db, stack.settings, stack.api_url, 100, 0) as (rescue, rescue_api),
    ):
        for connected, profile in zip((harbour, rescue), PROFILES, strict=True):
            await patched_profile(stack, connected, profile)
        sessions = {
            harbour.account: await session_of(stack.db, harbour.organisation_id),
            rescue.account: await session_of(stack.db, rescue.organisation_id),
        }
        flows = [
            paid_refunded_and_cancelled(stack, connected, api, sessions[connected.account], fee)
            for connected, api, fee in ((harbour, harbour_api, 208), (rescue, rescue_api, 75))
            for _ in range(3)
        ]
        bookings = await asyncio.gather(*flows)
        apis = {harbour.account: harbour_api, rescue.account: rescue_api}
        receipts = {b["id"]: await pdf_of(apis, b, "receipt.pdf") for b in bookings}
        for connected in (harbour, rescue):
            await each_document_is_its_seller_s(stack, connected, bookings, receipts)
        await patched_profile(stack, harbour, {"legal_name": "Harbour Renamed Ltd"})
        for booking in bookings:  # issued documents are snapshots
            assert await pdf_of(apis, booking, "receipt.pdf") == receipts[booking["id"]]
    assert platform_fee(PRICE, FEE_BASIS_POINTS, FEE_FIXED) == 208  # 187.5 -> 188, and 20
    assert platform_fee(PRICE, 100, 0) == 75
    for booking in bookings:
        other = rescue if booking["payment"]["stripe_account_id"] == harbour.account else harbour
        with pytest.raises(stripe.InvalidRequestError):  # nothing of it in the other's account
            await refunds_at(stack.stripe_client, booking, other.account)


async def patched_profile(stack: Stack, connected: Connected, profile: Json) -> Json:
    """The organisation's profile after its admin's PATCH /v1/organisation."""
    async with api_client(stack.api_url, connected.admin_key) as admin:
        answer = await admin.patch("/v1/organisation", json=profile)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def pdf_of(apis: dict[str, httpx.AsyncClient], booking: Json, document: str) -> bytes:
    api = apis[booking["payment"]["stripe_account_id"]]
    answer = await api.get(f"/v1/bookings/{booking['id']}/{document}")
    assert answer.status_code == 200, answer.text
    return answer.content


async def each_document_is_its_seller_s(
    stack: Stack,
    connected: Connected,
    bookings: list[Json],
    receipts: dict[str, bytes],
) -> None:
    """The organisation's bookings: references 1..3, receipts 1..3 and credit notes 1..6 of its
    own prefixes (it is new: its counters start at 1), and receipts printing its seller and VAT
    line, not the other's."""
    own = [b for b in bookings if b["payment"]["stripe_account_id"] == connected.account]
    async with api_client(stack.api_url, connected.admin_key) as admin:
        profile = (await admin.get("/v1/organisation")).json()
    year = datetime.now(UTC).year
    async with stack.db() as s:
        numbers = await s.execute(
            select(Receipt.kind, Receipt.number).where(
                Receipt.booking_id.in_([uuid.UUID(b["id"]) for b in own])
            )
        )
        documents = sorted(numbers.all())
    assert sorted(b["reference"] for b in own) == [
        f"{profile['reference_prefix']}-{year}-{n:04d}" for n in (1, 2, 3)
    ]
    assert documents == sorted(
        [("credit_note", f"{profile['credit_note_prefix']}-{year}-{n:06d}") for n in range(1, 7)]
        + [("receipt", f"{profile['receipt_prefix']}-{year}-{n:06d}") for n in (1, 2, 3)]
    )
    others = [p for p in PROFILES if p["legal_name"] != profile["legal_name"]]
    for booking in own:
        text = pdftotext(receipts[booking["id"]])
        assert profile["legal_name"] in text and profile["tax_id"] in text, text
        rate = profile["vat_rate_basis_points"] // 100
        assert f"VAT at {rate}%" in text, text
        assert all(other["legal_name"] not in text for other in others), text


async def paid_refunded_and_cancelled(
    stack: Stack,
    connected: Connected,
    organiser_api: httpx.AsyncClient,
    session_id: str,
    fee: int,
) -> Json:
    booking = await start_booking(organiser_api, session_id)
    assert booking["payment"]["stripe_account_id"] == connected.account
    intent_id = booking["payment"]["payment_intent_id"]
    intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
        intent_id, options=connected.on_account()
    )
    assert intent.application_fee_amount == fee

    # Paid in its account: localstripe's event names the account, which owns the booking.
    assert await pay(stack.stripe_client, intent_id, account=connected.account) == "succeeded"
    booking = await wait_for_status(organiser_api, booking["id"], "CONFIRMED")
    row = await row_of(stack.db, booking["id"])
    assert (row.stripe_account_id, row.application_fee_amount) == (connected.account, fee)

    admin = {"Authorization": f"Bearer {connected.admin_key}"}
    refunds = f"/v1/bookings/{booking['id']}/refunds"
    part = await organiser_api.post(
        refunds, json={"amount": 2000, "reason": "goodwill"}, headers=admin
    )
    assert (part.status_code, part.json()["amount_refunded"]) == (200, 2000), part.text
    cancelled = await organiser_api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["amount_refunded"] == PRICE

    assert await refunds_at(stack.stripe_client, booking, connected.account) == [2000, 5500]
    with pytest.raises(stripe.InvalidRequestError):  # no such payment in the platform's account
        await refunds_at(stack.stripe_client, booking, None)
    page = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": intent_id}, connected.on_account()
    )
    assert all(r.to_dict()["refund_application_fee"] for r in page.data)
    return booking


async def test_a_platform_booking_is_paid_and_refunded_in_the_platform_s_account(
    stack: Stack,
) -> None:
    session_id = await stack.new_session()
    booking = await start_booking(stack.api, session_id)
    assert booking["payment"]["stripe_account_id"] is None
    assert await pay(stack.stripe_client, booking["payment"]["payment_intent_id"]) == "succeeded"
    booking = await wait_for_status(stack.api, booking["id"], "CONFIRMED")
    cancelled = await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")
    assert cancelled.json()["amount_refunded"] == PRICE
    assert await refunds_at(stack.stripe_client, booking, None) == [PRICE]
    row = await row_of(stack.db, booking["id"])
    assert (row.stripe_account_id, row.application_fee_amount) == (None, None)


async def test_an_event_whose_account_does_not_own_the_booking_changes_nothing(
    stack: Stack,
) -> None:
    """Signed, so answered 200 (Stripe would only send it again), recorded as `wrong-account`:
    no signal reaches the booking and it stays unpaid."""
    async with organiser(stack.db, stack.settings, stack.api_url) as (connected, organiser_api):
        await forged_events_change_nothing(stack, connected, organiser_api)


async def forged_events_change_nothing(
    stack: Stack, connected: Connected, organiser_api: httpx.AsyncClient
) -> None:
    their_session = await session_of(stack.db, connected.organisation_id)
    theirs = await start_booking(organiser_api, their_session)
    ours = await start_booking(stack.api, await stack.new_session())
    forged = [
        (theirs, new_account()),  # another connected account
        (theirs, None),  # the platform's, for a connected account's booking
        (ours, connected.account),  # a connected account, for the platform's booking
    ]
    for booking, account in forged:
        intent = {
            "id": booking["payment"]["payment_intent_id"],
            "object": "payment_intent",
            "metadata": {"booking_id": booking["id"]},
        }
        event_id = f"evt_{uuid.uuid4().hex[:24]}"
        body, headers = signed_event(
            "payment_intent.succeeded", intent, event_id=event_id, account=account
        )
        answer = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert (answer.status_code, answer.json()["outcome"]) == (200, "wrong-account")
        event: StripeEvent | None = await recorded(stack.db, event_id)
        assert event is not None and event.outcome == "wrong-account"

    for booking, api in ((theirs, organiser_api), (ours, stack.api)):
        shown = (await api.get(f"/v1/bookings/{booking['id']}")).json()
        assert shown["status"] == "PENDING_PAYMENT"
        assert (await row_of(stack.db, booking["id"])).status == "PENDING_PAYMENT"
        assert await payment_signals(stack.temporal, booking["id"]) == 0

    # The same event from the account that owns the booking is signalled.
    intent = {"id": theirs["payment"]["payment_intent_id"], "object": "payment_intent"}
    body, headers = signed_event("payment_intent.processing", intent, account=connected.account)
    answer = await stack.api.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert answer.json()["outcome"] == "signalled"
    assert await payment_signals(stack.temporal, theirs["id"]) == 1


async def test_events_signed_with_the_connect_endpoint_s_secret_are_read_too(
    api_variant: Any, api: httpx.AsyncClient, new_session: SessionFactory
) -> None:
    booking = await start_booking(api, await new_session())
    intent = {"id": booking["payment"]["payment_intent_id"], "object": "payment_intent"}
    async with api_variant(stripe_connect_webhook_secret="whsec_connect") as variant:
        for secret, status in (("whsec_connect", 200), ("whsec_neither", 400)):
            body, headers = signed_event("payment_intent.processing", intent, secret=secret)
            answer = await variant.post("/v1/webhooks/stripe", content=body, headers=headers)
            assert answer.status_code == status, (secret, answer.text)
        body, headers = signed_event("payment_intent.processing", intent)  # the account secret
        assert (await variant.post("/v1/webhooks/stripe", content=body, headers=headers)).is_success
    body, headers = signed_event("payment_intent.processing", intent, secret="whsec_connect")
    assert (await api.post("/v1/webhooks/stripe", content=body, headers=headers)).status_code == 400


async def test_a_dearer_move_is_paid_and_refunded_in_the_booking_s_account(stack: Stack) -> None:
    """The £15.00 difference of a move from £75.00 to £90.00 is paid in the organisation's own
    account, with the platform's fee on the difference alone; a cancel then refunds both
    intents there, the newest first."""
    async with organiser(stack.db, stack.settings, stack.api_url) as (connected, api):
        source = await session_of(stack.db, connected.organisation_id)
        target = await session_of(stack.db, connected.organisation_id, price_amount=9_000)
        booking = await start_booking(api, source)
        own = booking["payment"]["payment_intent_id"]
        assert await pay(stack.stripe_client, own, account=connected.account) == "succeeded"
        booking = await wait_for_status(api, booking["id"], "CONFIRMED")

        asked = await api.post(
            f"/v1/bookings/{booking['id']}/move",
            json={"session_id": target},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

        assert asked.status_code == 202, asked.text
        difference = asked.json()["move_payment"]["payment_intent_id"]
        intent = await stack.stripe_client.v1.payment_intents.retrieve_async(
            difference, options=connected.on_account()
        )
        assert (intent.amount, intent.application_fee_amount) == (
            1_500,
            platform_fee(1_500, FEE_BASIS_POINTS, FEE_FIXED),
        )
        assert intent.to_dict()["metadata"] == {"booking_id": booking["id"], "move_number": "1"}
        assert await pay(stack.stripe_client, difference, account=connected.account) == "succeeded"
        moved = await eventually(
            lambda: api.get(f"/v1/bookings/{booking['id']}"),
            lambda answer: answer.json()["session_id"] == target,
            what="the booking moved",
        )
        assert moved.json()["amount_paid"] == 9_000
        cancelled = await api.post(f"/v1/bookings/{booking['id']}/cancel")
        assert cancelled.json()["amount_refunded"] == 9_000, cancelled.text
        for intent_id, refunded in ((own, [PRICE]), (difference, [1_500])):
            page = await stack.stripe_client.v1.refunds.list_async(
                {"payment_intent": intent_id}, connected.on_account()
            )
            assert sorted(r.amount for r in page.data) == refunded
