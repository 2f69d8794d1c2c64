"""Webhooks out against the real servers: a booking's events reach a receiving server signed
(Standard Webhooks), in order, at least once, across outages, and can be sent again.

Over 350 lines: the delivery guarantees one after another (signing, order, retries, redirects,
windows, re-enabling, redelivery); their set-up is in helpers.py and conftest.py beside it."""

import asyncio
import time
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import WebhookDeliveryStatus, WebhookEventType
from messages.webhooks import delivery_workflow_id
from models.tables import WebhookDelivery
from store.organisations import DEFAULT_ORGANISATION_ID
from store.webhook_events import publish
from tests.api.conftest import ADMIN, VariantFactory
from tests.api.webhooks_out.conftest import Register
from tests.api.webhooks_out.helpers import (
    about,
    accepted_about,
    deliveries,
    ping_until,
    seconds_between,
    wait_for,
    wait_for_delivery,
)
from tests.conftest import SessionFactory
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.api_bookings import erase_at_rest, paid_booking, start_booking, wait_for_status
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.histories import WEBHOOK_DELIVERY_HISTORIES, keep_workflow_history


async def test_a_paid_booking_is_created_then_confirmed_signed_and_in_order(
    stack: Stack, register: Register, receiver: WebhookReceiver
) -> None:
    await register("shop")
    booking = await paid_booking(stack.api, stack.stripe_client, await stack.new_session())
    got = await wait_for(lambda: about(receiver.accepted("shop"), booking["id"]), 2)
    assert [r.type for r in got] == ["booking.created", "booking.confirmed"]
    assert all(r.verified for r in about(receiver.requests("shop"), booking["id"]))
    assert [r.body["data"]["sequence"] for r in got] == [1, 2]
    created, confirmed = (r.body["data"]["booking"] for r in got)
    assert created["status"] == "PENDING_PAYMENT"
    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["reference"] == booking["reference"]
    assert confirmed["customer"]["email"] == "ada@example.com"
    assert "client_secret" not in str(got[0].body)
    assert len({r.webhook_id for r in got}) == 2


async def test_expired_and_cancelled_bookings(
    api: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    await register("shop")
    expiring = await start_booking(api, await new_session(hold_seconds=1))
    cancelled = await start_booking(api, await new_session())
    response = await api.post(f"/v1/bookings/{cancelled['id']}/cancel", json={})
    assert response.status_code in (200, 202), response.text
    await wait_for_status(api, expiring["id"], "EXPIRED")
    for booking, last in ((expiring, "booking.expired"), (cancelled, "booking.cancelled")):
        got = await wait_for(accepted_about(receiver, "shop", booking["id"]), 2)
        assert [r.type for r in got] == ["booking.created", last]
        assert got[1].body["data"]["booking"]["status"] == last.split(".")[1].upper()


async def test_a_receiver_outage_delays_but_loses_and_reorders_nothing(
    stack: Stack,
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
) -> None:
    endpoint = await register("shop")
    receiver.fail_next(4, 503)
    booking = await paid_booking(stack.api, stack.stripe_client, await stack.new_session())
    got = await wait_for(lambda: about(receiver.accepted("shop"), booking["id"]), 2)
    assert [r.type for r in got] == ["booking.created", "booking.confirmed"]
    tried = about(receiver.requests("shop"), booking["id"])
    assert [r.status for r in tried] == [503, 503, 503, 503, 204, 204]
    assert {r.webhook_id for r in tried[:5]} == {got[0].webhook_id}  # the same id on retries
    workflow_id = delivery_workflow_id(endpoint["id"], booking["id"])
    assert await stack.temporal.get_workflow_handle(workflow_id).result() >= 1  # its queue emptied
    await keep_workflow_history(
        stack.temporal, workflow_id, WEBHOOK_DELIVERY_HISTORIES / "retried-through-outage"
    )
    listed = {d["event_id"]: d for d in await deliveries(admin, endpoint["id"])}
    created = listed[got[0].webhook_id]
    assert created["status"] == "delivered"
    assert [a["status_code"] for a in created["attempts"]] == [503, 503, 503, 503, 204]


async def test_a_timeout_and_a_429_are_retried_honouring_retry_after(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    receiver.fail_next(1, None, delay=1.5)  # longer than the sender waits (1 s in tests)
    receiver.fail_next(1, 429, retry_after=2)
    _, done = await ping_until(admin, endpoint["id"], "delivered")
    codes = [a["status_code"] for a in done["attempts"]]
    assert codes == [None, 429, 204]
    assert "Timeout" in done["attempts"][0]["error"]
    waited = seconds_between(done["attempts"][1], done["attempts"][2])
    assert waited >= 1.9, "Retry-After: 2 was not honoured"


async def test_a_4xx_gives_up_at_once_then_redelivery_sends_the_same_event(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    receiver.fail_next(1, 410)
    ping, failed = await ping_until(admin, endpoint["id"], "failed")
    assert [a["status_code"] for a in failed["attempts"]] == [410]

    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{ping['id']}/redeliver"
    assert (await admin.post(path)).status_code == 202
    done = await wait_for_delivery(admin, endpoint["id"], ping["id"], "delivered")
    assert [a["status_code"] for a in done["attempts"]] == [410, 204]
    assert [r.webhook_id for r in receiver.requests("shop")] == [ping["event_id"]] * 2


async def test_a_redirect_is_not_followed_and_gives_up(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    receiver.fail_next(1, 302)
    _, failed = await ping_until(admin, endpoint["id"], "failed")
    assert [(a["status_code"], a["error"]) for a in failed["attempts"]] == [(302, "HTTP 302")]


async def test_retries_end_after_the_window_and_the_delivery_is_marked_failed(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    receiver.fail_next(1000, 500)
    _, failed = await ping_until(admin, endpoint["id"], "failed", within=30)
    assert len(failed["attempts"]) >= 3
    assert {a["status_code"] for a in failed["attempts"]} == {500}
    span = seconds_between(failed["attempts"][0], failed["attempts"][-1])
    assert span <= 5.5  # the test settings' window


async def test_only_enabled_endpoints_get_only_the_events_they_subscribed_to(
    stack: Stack,
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
) -> None:
    await register("everything")
    await register("confirmations", events=["booking.confirmed"])
    disabled = await register("disabled")
    response = await admin.patch(f"/v1/webhook-endpoints/{disabled['id']}", json={"enabled": False})
    assert response.json()["enabled"] is False
    booking = await paid_booking(stack.api, stack.stripe_client, await stack.new_session())
    await wait_for(lambda: about(receiver.accepted("everything"), booking["id"]), 2)
    got = await wait_for(lambda: about(receiver.accepted("confirmations"), booking["id"]), 1)
    await asyncio.sleep(0.5)  # time for anything wrongly queued to arrive
    assert [r.type for r in about(receiver.requests("confirmations"), booking["id"])] == [
        "booking.confirmed"
    ]
    assert got[0].body["data"]["sequence"] == 2  # the booking's second event
    assert receiver.requests("disabled") == []
    assert await deliveries(admin, disabled["id"]) == []


async def test_ping_is_signed_and_listed(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop", events=["booking.refunded"])
    response = await admin.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping")
    assert response.status_code == 202
    ping = response.json()
    assert ping["event_type"] == "ping" and ping["status"] == "pending"
    got = await wait_for(lambda: receiver.accepted("shop"), 1)
    assert got[0].type == "ping" and got[0].webhook_id == ping["event_id"]
    assert got[0].body["data"]["endpoint_id"] == endpoint["id"]


async def test_a_cancelled_session_is_an_event(
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    await register("shop", events=["session.cancelled"])
    session_id = await new_session()
    response = await admin.post(f"/v1/sessions/{session_id}/cancel")
    assert response.status_code in (200, 202), response.text
    got = await wait_for(lambda: receiver.accepted("shop"), 1)
    assert got[0].type == "session.cancelled"
    assert got[0].body["data"]["session"] == {
        **got[0].body["data"]["session"],
        "id": session_id,
        "status": "cancelled",
    }


async def test_another_organisations_bookings_are_not_sent(
    api: httpx.AsyncClient,
    other_admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    await register("ours")
    await register("theirs", client=other_admin)
    booking = await start_booking(api, await new_session())
    await wait_for(lambda: about(receiver.accepted("ours"), booking["id"]), 1)
    await asyncio.sleep(0.5)
    assert receiver.requests("theirs") == []


async def test_disabling_holds_pending_deliveries_and_enabling_sends_them(
    admin: httpx.AsyncClient, register: Register, receiver: WebhookReceiver
) -> None:
    endpoint = await register("shop")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    receiver.fail_next(3, 503)
    ping = (await admin.post(f"{path}/ping")).json()
    await wait_for(lambda: receiver.requests("shop"), 1)
    assert (await admin.patch(path, json={"enabled": False})).status_code == 200
    await asyncio.sleep(0.5)  # an attempt under way when it was disabled may still land
    tried = len(receiver.requests("shop"))
    await asyncio.sleep(1.5)  # longer than the retry waits: nothing more is sent
    assert len(receiver.requests("shop")) == tried
    assert [d["status"] for d in await deliveries(admin, endpoint["id"])] == ["pending"]

    assert (await admin.patch(path, json={"enabled": True})).status_code == 200
    done = await wait_for_delivery(admin, endpoint["id"], ping["id"], "delivered")
    assert [a["status_code"] for a in done["attempts"]] == [503, 503, 503, 204]


async def test_erasing_a_customer_deletes_the_events_that_copied_their_data(
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
    new_session: SessionFactory,
) -> None:
    endpoint = await register("shop")
    email = f"erase-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "session_id": await new_session(),
        "quantity": 1,
        "customer": {"name": "Grace Hopper", "email": email},
    }
    made = await api.post("/v1/bookings", json=body, headers={"Idempotency-Key": email})
    booking_id = made.json()["id"]
    assert (await api.post(f"/v1/bookings/{booking_id}/cancel", json={})).status_code == 200
    await wait_for(accepted_about(receiver, "shop", booking_id), 2)
    sent = {r.webhook_id for r in about(receiver.accepted("shop"), booking_id)}
    assert sent <= {d["event_id"] for d in await deliveries(admin, endpoint["id"])}

    erased = await erase_at_rest(admin, email, booking_id)
    assert erased["erased"] == [booking_id]
    assert not sent & {d["event_id"] for d in await deliveries(admin, endpoint["id"])}


async def test_each_refund_is_an_event_with_its_amount_the_total_and_what_remains(
    stack: Stack,
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
) -> None:
    await register("shop")
    booking = await paid_booking(stack.api, stack.stripe_client, await stack.new_session(), 2)
    total = booking["amount_total"]
    refunds = f"/v1/bookings/{booking['id']}/refunds"
    for amount in (1_000, total - 1_000):
        answer = await admin.post(
            refunds,
            json={"amount": amount, "reason": "goodwill"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert answer.status_code == 200, answer.text
    await wait_for_status(stack.api, booking["id"], "REFUNDED")

    got = await wait_for(lambda: about(receiver.accepted("shop"), booking["id"]), 4)
    assert [r.type for r in got] == [
        "booking.created",
        "booking.confirmed",
        "booking.refunded",
        "booking.refunded",
    ]
    figures = [r.body["data"]["refund"] for r in got[2:]]
    assert figures == [
        {"amount": 1_000, "total_refunded": 1_000, "currency": booking["currency"]},
        {"amount": total - 1_000, "total_refunded": total, "currency": booking["currency"]},
    ]
    assert len({r.webhook_id for r in got}) == 4
    # Each event's booking tells what was paid, refunded and remains paid, at that moment.
    amounts = ("amount_paid", "amount_refunded", "amount_remaining")
    money = [tuple(r.body["data"]["booking"][k] for k in amounts) for r in got]
    assert money == [(0, 0, 0), (total, 0, total), (total, 1_000, total - 1_000), (total, total, 0)]


BACKLOG = 200  # streams pending while the endpoint was disabled


async def test_enabling_answers_at_once_and_its_long_backlog_is_still_delivered(
    admin: httpx.AsyncClient,
    register: Register,
    receiver: WebhookReceiver,
    db: async_sessionmaker[AsyncSession],
    api_variant: VariantFactory,
) -> None:
    """Waking the backlog is one workflow start per stream: done after the answer, never
    inside the PATCH (issue 17, case 13)."""
    endpoint = await register("backlog")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert (await admin.patch(path, json={"enabled": False})).status_code == 200
    async with db.begin() as s:
        for n in range(BACKLOG):
            await publish(
                s,
                WebhookEventType.PING,
                DEFAULT_ORGANISATION_ID,
                uuid.uuid4(),
                {"n": n},
                "ping",
                [uuid.UUID(endpoint["id"])],
            )
    # The woken workflows retry for two minutes (not the suite's 5 s): 200 at once load the
    # receiver on a busy machine, and each must still get through. The wake-up runs in this
    # API after its answer, so it serves until all are delivered.
    async with api_variant(webhook_retry_window_seconds=120) as patient:
        started = time.monotonic()
        enabled = await patient.patch(path, json={"enabled": True}, headers=ADMIN)
        answered_in = time.monotonic() - started
        assert enabled.status_code == 200, enabled.text
        assert answered_in < 1.0, f"the PATCH took {answered_in:.2f} s"
        await wait_for(lambda: receiver.accepted("backlog"), BACKLOG, within=90)
        # The receiver answers before the worker records it.
        await eventually(
            lambda: _delivered(db, endpoint["id"]),
            lambda delivered: delivered == BACKLOG,
            within=30,
            every=0.2,
            what=f"{BACKLOG} recorded delivered",
        )


async def _delivered(db: async_sessionmaker[AsyncSession], endpoint_id: str) -> int:
    async with db() as s:
        count = await s.scalar(
            select(func.count()).where(
                WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id),
                WebhookDelivery.status == WebhookDeliveryStatus.DELIVERED,
            )
        )
    return count or 0
