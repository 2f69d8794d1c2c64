"""The API's calls into booking workflows: start one (update-with-start), cancel one, refund or
cancel places of one, each bounded in time, and the ids and fingerprints they are keyed by."""

import asyncio
import uuid
from dataclasses import fields
from datetime import UTC
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
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
from temporalio.workflow import UpdateMethodMultiParam

from clients.idempotency import same_order
from core.customer_hash import customer_hash
from core.enums import SessionStatus
from core.errors import (
    BookingError,
    BookingNotCancellable,
    BookingNotChangeable,
    ServiceUnavailable,
    WorkflowEnded,
    as_booking_error,
)
from core.pricing import GroupDiscount, quote
from core.settings import Settings
from documents.receipt_data import format_money
from messages import search_attributes as sa
from messages.booking import (
    BookingRequest,
    BookingView,
    BookingWorkflowInput,
    CancelRequest,
    MoveOrder,
    PlacesCancellation,
    RefundOrder,
    Timings,
    booking_workflow_id,
    next_cancel_update_id,
)
from models.tables import Booking, Session
from workflows.booking import BookingWorkflow

# Booking ids derived from (API key id, Idempotency-Key): the same request finds the same workflow.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("1b3f0a52-5a7e-4c39-8f0e-2d9c4b7a6e10")
_NO_ANSWER = (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError)
_TIMES = "\N{MULTIPLICATION SIGN}"


def booking_id_for(key_id: str, idempotency_key: str | None) -> str:
    """`key_id` is the API key's stable id (never its secret, which we do not keep)."""
    if not idempotency_key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{key_id}\n{idempotency_key}"))


def timings(settings: Settings) -> Timings:
    """The workflow's durations, each read from the setting of the same name."""
    return Timings(**{field.name: getattr(settings, field.name) for field in fields(Timings)})


def booking_summary(session: Session, quantity: int) -> str:
    """What the Temporal UI shows for a booking, read at a glance and holding nothing personal:
    places times title · location · start (UTC) · price, e.g. `2 x First Aid at Work · Leeds ·
    2026-12-03 09:00 UTC · £150.00` with a multiplication sign; the price is the quote the
    workflow will charge."""
    price = quote(
        session.price_amount,
        quantity,
        GroupDiscount(session.discount_min_quantity, session.discount_basis_points),
    )
    return " · ".join(
        [
            f"{quantity} {_TIMES} {_clip(session.title, 60)}",
            _clip(session.location, 40),
            f"{session.starts_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            format_money(price.total, session.currency),
        ]
    )


def _clip(text: str, limit: int) -> str:
    """Temporal keeps a summary short (400 bytes by default): long names are cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def start_booking_workflow(
    temporal: Client,
    settings: Settings,
    request: BookingRequest,
    summary: str | None = None,
    *,
    organisation_id: str | None = None,
) -> BookingView:
    """The workflow begins and answers `hold` in one round trip, or ServiceUnavailable.

    `summary` is the UI's line for it (`booking_summary`); without one, places and session id.
    """
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
                SearchAttributePair(
                    sa.CUSTOMER_HASH,
                    customer_hash(request.customer_email, settings.customer_hash_key),
                ),
                *_organisation(organisation_id),
            ]
        ),
        static_summary=summary or f"{request.quantity} {_TIMES} session {request.session_id}",
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
    except RPCError as err:
        if err.status != RPCStatusCode.FAILED_PRECONDITION:
            raise
        # "Workflow Task in failed state": its worker died mid-task; another takes it up.
        raise ServiceUnavailable(
            "the booking's workflow is recovering: retry with the same Idempotency-Key"
        ) from None


def _organisation(organisation_id: str | None) -> list[SearchAttributePair[str]]:
    """The OrganisationId search attribute, when the caller knows the organisation."""
    return [SearchAttributePair(sa.ORGANISATION_ID, organisation_id)] if organisation_id else []


async def customer_cancel(db: AsyncSession, booking: Booking, reason: str) -> CancelRequest:
    """The customer's cancel: a full refund once the booking's session is cancelled (the
    session's cancellation outranks the refund policy, whichever reaches the booking first)."""
    return CancelRequest(reason, session_cancelled=await _session_cancelled(db, booking))


async def check_places_changeable(db: AsyncSession, booking: Booking) -> None:
    """Places are not given back by the policy once the session is cancelled: its cancellation
    refunds the whole booking in full."""
    if await _session_cancelled(db, booking):
        raise BookingNotChangeable("the session is cancelled: the booking is refunded in full")


async def _session_cancelled(db: AsyncSession, booking: Booking) -> bool:
    status = await db.scalar(select(Session.status).where(Session.id == booking.session_id))
    return status == SessionStatus.CANCELLED


async def cancel_booking_workflow(
    temporal: Client, booking_id: str, request: CancelRequest, status_now: str
) -> BookingView:
    """Cancel and wait for the outcome however long it takes (CANCELLED, or REFUNDED once
    Stripe has refunded); a second cancel is refused. For operators and workflow tests."""
    update = await _start_cancel(temporal, booking_id, request, status_now, update_id=None)
    return await _outcome(update)


Change = CancelRequest | RefundOrder | PlacesCancellation | MoveOrder


async def change_within(
    temporal: Client,
    settings: Settings,
    booking_id: str,
    change: Change,
    status_now: str,
    update_id: str | None = None,
) -> BookingView | None:
    """A cancel, an admin's refund or places given back, as the booking's workflow carries it
    out: its outcome if it comes within `cancel_wait_seconds`, else None (accepted, it finishes
    durably); ServiceUnavailable if Temporal does not accept it in time. A repeated cancel
    answers the first one's outcome. An order is keyed by the caller's `update_id`: the same id
    answers the same outcome, even once the workflow has closed; with another order it is
    refused (IdempotencyKeyReused), and nothing is done twice."""
    try:
        async with asyncio.timeout(settings.workflow_accept_seconds):
            update = await _accept(temporal, booking_id, change, status_now, update_id)
    except _NO_ANSWER:
        what = "cancel" if isinstance(change, CancelRequest) else "request"
        raise ServiceUnavailable(f"the workflow did not accept the {what} in time") from None
    try:
        async with asyncio.timeout(settings.cancel_wait_seconds):
            return await _outcome(update)
    except _NO_ANSWER:
        return None


async def _accept(
    temporal: Client, booking_id: str, change: Change, status_now: str, update_id: str | None
) -> WorkflowUpdateHandle[BookingView]:
    """The change's update, accepted by the workflow."""
    if isinstance(change, CancelRequest):
        handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
        update_id = await next_cancel_update_id(handle, change.session_cancelled)
        return await _start_cancel(temporal, booking_id, change, status_now, update_id)
    assert update_id is not None, "an order is keyed by its caller's update id"
    gone = BookingNotChangeable(f"a booking that is {status_now} cannot be changed")
    if isinstance(change, RefundOrder):
        update = await _start(temporal, booking_id, BookingWorkflow.refund, change, update_id, gone)
    elif isinstance(change, MoveOrder):
        update = await _start(temporal, booking_id, BookingWorkflow.move, change, update_id, gone)
    else:
        update = await _start(
            temporal, booking_id, BookingWorkflow.cancel_places, change, update_id, gone
        )
    await same_order(temporal, booking_id, update_id, change)
    return update


async def _start_cancel(
    temporal: Client,
    booking_id: str,
    request: CancelRequest,
    status_now: str,
    update_id: str | None,
) -> WorkflowUpdateHandle[BookingView]:
    gone = BookingNotCancellable.in_status(status_now)
    return await _start(temporal, booking_id, BookingWorkflow.cancel, request, update_id, gone)


Arg = TypeVar("Arg")


async def _start(
    temporal: Client,
    booking_id: str,
    update: UpdateMethodMultiParam[[BookingWorkflow, Arg], BookingView],
    arg: Arg,
    update_id: str | None,
    gone: BookingError,
) -> WorkflowUpdateHandle[BookingView]:
    """The update, accepted; `gone` when the workflow has closed (a new update is refused)."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        return await handle.start_update(
            update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise await _why_closed(handle, gone) from None


async def _why_closed(handle: WorkflowHandle[Any, Any], gone: BookingError) -> BookingError:
    """A closed workflow takes no new update: `gone` when it completed (the booking ended) or
    failed on a business rule (a booking rejected at setup), WorkflowEnded when it was
    terminated, failed for another reason or timed out."""
    try:
        status = (await handle.describe()).status
    except RPCError:
        return gone
    if status in (None, WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.RUNNING):
        return gone
    if status == WorkflowExecutionStatus.FAILED and await _rejected(handle):
        return gone
    return WorkflowEnded(f"the booking's workflow was {status.name.lower().replace('_', ' ')}")


async def _rejected(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the failed workflow refused its booking on a business rule at setup."""
    try:
        await handle.result()
    except WorkflowFailureError as err:
        return as_booking_error(err) is not None
    except RPCError:
        return False
    return False


async def _outcome(update: WorkflowUpdateHandle[BookingView]) -> BookingView:
    try:
        return await update.result()
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
