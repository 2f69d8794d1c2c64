"""`booking-ops webhooks`: endpoints and deliveries listed, failed deliveries sent again; bad
arguments exit 2 and unknown endpoints exit 1, each with one line."""

import json

from activities.webhook_signals import DeliveryStarter
from core.enums import WebhookEventType
from core.settings import Settings
from messages.webhooks import retry_timings
from store.webhook_endpoints import get_endpoint, queue_ping
from tests.api.webhooks_out.helpers import endpoint_on, wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops


async def test_a_refused_delivery_is_listed_and_sent_again(stack: Stack) -> None:
    with WebhookReceiver() as receiver:
        events = [WebhookEventType.SESSION_CANCELLED]
        async with endpoint_on(stack.db, stack.settings, receiver, "shop", events) as endpoint_id:
            receiver.fail_next(1, 410)
            async with stack.db.begin() as session:
                ping = await queue_ping(session, await get_endpoint(session, str(endpoint_id)))
            starter = DeliveryStarter(
                stack.db, stack.temporal, stack.settings.task_queue, retry_timings(stack.settings)
            )
            await starter.start(str(endpoint_id), str(ping.event.stream_id))
            await wait_for(lambda: receiver.requests("shop"), 1)

            listed = await booking_ops(stack.settings, "webhooks", "endpoints", "--json")
            assert listed.exit_code == 0, listed.output
            assert str(endpoint_id) in [e["id"] for e in json.loads(listed.stdout)]
            failed = await _failed(stack.settings, str(endpoint_id), expect=1)
            assert [a["status_code"] for a in failed[0]["attempts"]] == [410]
            assert failed[0]["event_id"] == ping.event.id

            again = await booking_ops(
                stack.settings, "webhooks", "redeliver", str(endpoint_id), "--failed"
            )
            assert again.exit_code == 0, again.output
            assert again.stdout.strip() == "1 delivery(ies) queued again"
            got = await wait_for(lambda: receiver.accepted("shop"), 1)
            assert [r.webhook_id for r in got] == [ping.event.id]
            await _failed(stack.settings, str(endpoint_id), expect=0)


async def _failed(settings: Settings, endpoint_id: str, expect: int) -> list[dict]:
    """The endpoint's failed deliveries once there are `expect` of them."""

    async def shown() -> list[dict]:
        result = await booking_ops(
            settings, "webhooks", "deliveries", endpoint_id, "--status", "failed", "--json"
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    return await eventually(
        shown, lambda found: len(found) == expect, what=f"{expect} failed deliveries"
    )


async def test_bad_arguments_exit_2_and_unknown_endpoints_exit_1(settings: Settings) -> None:
    for args in [
        ("webhooks", "deliveries", "not-an-id"),
        ("webhooks", "deliveries", "6f1d3c1e-5b7a-4c2e-9d8f-0a1b2c3d4e5f", "--status", "lost"),
        ("webhooks", "redeliver", "6f1d3c1e-5b7a-4c2e-9d8f-0a1b2c3d4e5f"),
    ]:
        result = await booking_ops(settings, *args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    unknown = await booking_ops(
        settings, "webhooks", "deliveries", "6f1d3c1e-5b7a-4c2e-9d8f-0a1b2c3d4e5f"
    )
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().endswith("does not exist")
