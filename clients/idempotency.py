"""A reused Idempotency-Key on a booking's update (a refund, places given back) must come with
the body it first came with, as on POST /v1/bookings: Temporal answers an update id it has seen
with its first outcome whatever the new argument, so the first argument is read back from the
workflow's history and both are fingerprinted the one way requests are."""

import dataclasses
import hashlib
import json
from typing import Any, TypeVar

from temporalio.client import Client

from core.errors import IdempotencyKeyReused
from messages.booking import booking_workflow_id

Order = TypeVar("Order")


def request_fingerprint(body: dict[str, Any]) -> str:
    """The hash of a request body, so a reused Idempotency-Key with another body is refused."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def same_order(temporal: Client, booking_id: str, update_id: str, order: Any) -> None:
    """IdempotencyKeyReused unless the update `update_id` was accepted with `order` (or never)."""
    first = await _accepted_argument(temporal, booking_id, update_id, type(order))
    if first is not None:
        IdempotencyKeyReused.unless_same(_fingerprint(first), _fingerprint(order))


def _fingerprint(order: Any) -> str:
    return request_fingerprint(dataclasses.asdict(order))


async def _accepted_argument(
    temporal: Client, booking_id: str, update_id: str, kind: type[Order]
) -> Order | None:
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    async for event in handle.fetch_history_events():
        if not event.HasField("workflow_execution_update_accepted_event_attributes"):
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.meta.update_id == update_id:
            [argument] = await temporal.data_converter.decode(request.input.args.payloads, [kind])
            return argument  # type: ignore[no-any-return]
    return None
