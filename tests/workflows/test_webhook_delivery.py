"""The webhook delivery workflow on the session's worker: a stream's events one at a time in
their order, a refused one given up without holding back the rest, a long backlog carried
across continue-as-new, deliveries nobody woke woken by the safety net; and the committed
histories of both workflows replay against today's code."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.enums import WebhookDeliveryStatus, WebhookEventType
from core.settings import Settings
from messages.repairs import SafetyNetInput, WebhookSweep
from messages.webhooks import DeliveryStream, delivery_workflow_id, retry_timings
from models.tables import WebhookAttempt, WebhookDelivery, WebhookEvent
from store.organisations import DEFAULT_ORGANISATION_ID
from store.webhook_events import publish
from tests.api.webhooks_out.helpers import endpoint_on, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.stack import Stack
from tests.histories import HISTORIES, WEBHOOK_DELIVERY_HISTORIES, keep_workflow_history, replays
from tests.workflows.conftest import OwnWorker
from workflows.safety_net import SafetyNetWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

RECORDED = sorted(WEBHOOK_DELIVERY_HISTORIES.glob("*.json"))
# The safety net's, since it wakes deliveries (its earlier runs have no committed histories).
SAFETY_NET_HISTORIES = HISTORIES / "safety-net"
RECORDED_SAFETY_NETS = sorted(SAFETY_NET_HISTORIES.glob("*.json"))


async def _stream_of(
    db: async_sessionmaker[AsyncSession], endpoint_id: uuid.UUID, count: int
) -> uuid.UUID:
    """`count` events on a stream of their own, each pending for the endpoint."""
    stream = uuid.uuid4()
    async with db.begin() as session:
        for n in range(count):
            data = {"n": n}
            await publish(
                session,
                WebhookEventType.PING,
                DEFAULT_ORGANISATION_ID,
                stream,
                data,
                f"event-{n}",
                [endpoint_id],
            )
    return stream


async def _deliver(
    temporal: Client, settings: Settings, endpoint_id: uuid.UUID, stream: uuid.UUID, per_run: int
) -> tuple[int, str | None]:
    """The last run's count (continue-as-new is followed) and the first run's id."""
    handle = await temporal.start_workflow(
        WebhookDeliveryWorkflow.run,
        DeliveryStream(str(endpoint_id), str(stream), retry_timings(settings), per_run),
        id=delivery_workflow_id(str(endpoint_id), str(stream)),
        task_queue=settings.task_queue,
    )
    return await handle.result(), handle.first_execution_run_id


async def test_a_backlog_is_sent_in_order_across_continue_as_new(stack: Stack) -> None:
    with WebhookReceiver() as receiver:
        async with endpoint_on(stack.db, stack.settings, receiver, "shop", []) as endpoint_id:
            stream = await _stream_of(stack.db, endpoint_id, 5)
            done, first_run = await _deliver(
                stack.temporal, stack.settings, endpoint_id, stream, per_run=2
            )
            assert done == 1  # 2, 2, then 1
            got = receiver.accepted("shop")
            assert [r.body["data"]["sequence"] for r in got] == [1, 2, 3, 4, 5]
            assert [r.body["data"]["n"] for r in got] == [0, 1, 2, 3, 4]
            await keep_workflow_history(
                stack.temporal,
                delivery_workflow_id(str(endpoint_id), str(stream)),
                WEBHOOK_DELIVERY_HISTORIES / "continued-as-new",
                run_id=first_run,
            )


async def test_a_refused_event_is_given_up_and_the_next_ones_still_sent(stack: Stack) -> None:
    with WebhookReceiver() as receiver:
        async with endpoint_on(stack.db, stack.settings, receiver, "shop", []) as endpoint_id:
            receiver.fail_next(1, 410)
            receiver.fail_next(2, 503)
            stream = await _stream_of(stack.db, endpoint_id, 3)
            assert (
                await _deliver(stack.temporal, stack.settings, endpoint_id, stream, per_run=200)
            )[0] == 3
            tried = [(r.body["data"]["sequence"], r.status) for r in receiver.requests("shop")]
            assert tried == [(1, 410), (2, 503), (2, 503), (2, 204), (3, 204)]
            await keep_workflow_history(
                stack.temporal,
                delivery_workflow_id(str(endpoint_id), str(stream)),
                WEBHOOK_DELIVERY_HISTORIES / "gave-up-retried-delivered",
            )
            statuses = await _statuses(stack.db, stream)
            assert statuses == [
                WebhookDeliveryStatus.FAILED,
                WebhookDeliveryStatus.DELIVERED,
                WebhookDeliveryStatus.DELIVERED,
            ]


async def test_an_endpoint_on_a_private_address_is_refused_without_a_request(
    db: async_sessionmaker[AsyncSession], own_worker: OwnWorker, temporal: Client
) -> None:
    strict = await own_worker(webhook_allow_private_addresses=False)
    with WebhookReceiver() as receiver:
        async with endpoint_on(db, strict, receiver, "shop", []) as endpoint_id:
            stream = await _stream_of(db, endpoint_id, 1)
            assert (await _deliver(temporal, strict, endpoint_id, stream, per_run=200))[0] == 1
            assert receiver.requests() == []
            assert await _statuses(db, stream) == [WebhookDeliveryStatus.FAILED]
            async with db() as session:
                error = await session.scalar(
                    select(WebhookAttempt.error)
                    .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .where(WebhookEvent.stream_id == stream)
                )
            assert error == "127.0.0.1 resolves to 127.0.0.1, not a public address"


async def _statuses(db: async_sessionmaker[AsyncSession], stream: uuid.UUID) -> list[str]:
    async with db() as session:
        return list(
            await session.scalars(
                select(WebhookDelivery.status)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookEvent.stream_id == stream)
                .order_by(WebhookEvent.sequence)
            )
        )


async def test_the_safety_net_wakes_deliveries_nobody_woke(stack: Stack) -> None:
    with WebhookReceiver() as receiver:
        async with endpoint_on(stack.db, stack.settings, receiver, "shop", []) as endpoint_id:
            await _stream_of(stack.db, endpoint_id, 2)  # and no wake-up: as if it was lost
            async with stack.db.begin() as session:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.endpoint_id == endpoint_id)
                    .values(queued_at=func.now() - timedelta(minutes=10))
                )
            workflow_id = f"safety-net-test-{uuid.uuid4()}"
            report = await stack.temporal.execute_workflow(
                SafetyNetWorkflow.run,
                SafetyNetInput(
                    hold_grace_seconds=300,
                    payment_window_seconds=60,
                    settle_seconds=0,
                    webhook_sweep=WebhookSweep(untried_seconds=300, tried_seconds=3600),
                ),
                id=workflow_id,
                task_queue=stack.settings.task_queue,
            )
            assert report.webhook_deliveries_woken >= 1
            got = await wait_for(lambda: receiver.accepted("shop"), 2)
            assert [r.body["data"]["n"] for r in got] == [0, 1]
            await keep_workflow_history(
                stack.temporal, workflow_id, SAFETY_NET_HISTORIES / "webhook-sweep-woke-deliveries"
            )


def test_histories_are_committed() -> None:
    assert len(RECORDED) >= 3, "run the webhook tests with RECORD_HISTORIES=1 and commit them"
    assert RECORDED_SAFETY_NETS, "and the safety net's"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_history_replays(path: Path) -> None:
    await replays(WebhookDeliveryWorkflow, f"webhook-delivery-{path.stem}", path)


@pytest.mark.parametrize("path", RECORDED_SAFETY_NETS, ids=[p.stem for p in RECORDED_SAFETY_NETS])
async def test_safety_net_history_replays(path: Path) -> None:
    await replays(SafetyNetWorkflow, f"safety-net-{path.stem}", path)
