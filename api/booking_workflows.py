"""The API's calls into booking workflows: start one (update-with-start) and cancel one, each
bounded in time, and the booking id and request fingerprint those calls are keyed by."""

import asyncio
import hashlib
import json
import uuid
from dataclasses import fields
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from api.problems import as_booking_error
from core.errors import BookingNotCancellable, ServiceUnavailable
from core.settings import Settings
from models import search_attributes as sa
from models.booking import (
    CANCEL_UPDATE_ID,
    BookingRequest,
    BookingView,
    BookingWorkflowInput,
    CancelRequest,
    Timings,
    booking_workflow_id,
)
from workflows.booking import BookingWorkflow

# Booking ids derived from (API key id, Idempotency-Key): the same request finds the same workflow.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("1b3f0a52-5a7e-4c39-8f0e-2d9c4b7a6e10")
_NO_ANSWER = (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError)


def booking_id_for(key_id: str, idempotency_key: str | None) -> str:
    """`key_id` is the API key's stable id (never its secret, which we do not keep)."""
    if not idempotency_key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{key_id}\n{idempotency_key}"))


def request_fingerprint(body: dict[str, Any]) -> str:
    """The hash of a request body, so a reused Idempotency-Key with another body is refused."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def timings(settings: Settings) -> Timings:
    """The workflow's durations, each read from the setting of the same name."""
    return Timings(**{field.name: getattr(settings, field.name) for field in fields(Timings)})


async def start_booking_workflow(
    temporal: Client,
    settings: Settings,
    request: BookingRequest,
    *,
    organisation_id: str | None = None,
) -> BookingView:
    """The workflow begins and answers `hold` in one round trip, or ServiceUnavailable."""
    start = WithStartWorkflowOperation(
        BookingWorkflow.run,
        BookingWorkflowInput(
            request,
            timings(settings),
        ),
        id=booking_workflow_id(request.booking_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A rejected booking's workflow failed: the same key may try again.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.SESSION_ID, request.session_id),
                SearchAttributePair(sa.CUSTOMER_EMAIL, request.customer_email),
                *_organisation(organisation_id),
            ]
        ),
        static_summary=f"{request.quantity} place(s) for {request.customer_email}",
    )
    try:
        async with asyncio.timeout(settings.booking_start_wait_seconds):
            return await temporal.execute_update_with_start_workflow(
                BookingWorkflow.hold, request.request_fingerprint, start_workflow_operation=start
            )
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
    except _NO_ANSWER:
        raise ServiceUnavailable(
            "the booking was not set up in time: retry with the same Idempotency-Key"
        ) from None


def _organisation(organisation_id: str | None) -> list[SearchAttributePair[str]]:
    """The OrganisationId search attribute, when the caller knows the organisation."""
    return [SearchAttributePair(sa.ORGANISATION_ID, organisation_id)] if organisation_id else []


async def cancel_booking_workflow(
    temporal: Client, booking_id: str, request: CancelRequest, status_now: str
) -> BookingView:
    """Cancel and wait for the outcome however long it takes (CANCELLED, or REFUNDED once
    Stripe has refunded); a second cancel is refused. For operators and workflow tests."""
    update = await _start_cancel(temporal, booking_id, request, status_now, update_id=None)
    return await _outcome(update)


async def cancel_within(
    temporal: Client, settings: Settings, booking_id: str, request: CancelRequest, status_now: str
) -> BookingView | None:
    """The API's cancel: the outcome if it comes within `cancel_wait_seconds`, else None (the
    cancel is accepted and the workflow finishes it durably). A repeated cancel answers the
    first one's outcome; ServiceUnavailable if Temporal does not accept it in time."""
    try:
        async with asyncio.timeout(settings.workflow_accept_seconds):
            update = await _start_cancel(
                temporal, booking_id, request, status_now, update_id=CANCEL_UPDATE_ID
            )
    except _NO_ANSWER:
        raise ServiceUnavailable("the workflow did not accept the cancel in time") from None
    try:
        async with asyncio.timeout(settings.cancel_wait_seconds):
            return await _outcome(update)
    except _NO_ANSWER:
        return None


async def _start_cancel(
    temporal: Client,
    booking_id: str,
    request: CancelRequest,
    status_now: str,
    update_id: str | None,
) -> WorkflowUpdateHandle[BookingView]:
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        return await handle.start_update(
            BookingWorkflow.cancel,
            request,
            id=update_id,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise BookingNotCancellable.in_status(status_now) from None


async def _outcome(update: WorkflowUpdateHandle[BookingView]) -> BookingView:
    try:
        return await update.result()
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
