"""The API's calls into booking workflows: start one (update-with-start) and cancel one."""

from dataclasses import fields

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from api.problems import as_booking_error
from core.errors import BookingNotCancellable
from core.settings import Settings
from models import search_attributes as sa
from models.booking import (
    BookingRequest,
    BookingView,
    BookingWorkflowInput,
    CancelRequest,
    Timings,
)
from workflows.booking import BookingWorkflow


def workflow_id(booking_id: str) -> str:
    return f"booking-{booking_id}"


def timings(settings: Settings) -> Timings:
    """The workflow's durations, each read from the setting of the same name."""
    return Timings(**{field.name: getattr(settings, field.name) for field in fields(Timings)})


async def start_booking_workflow(
    temporal: Client, settings: Settings, request: BookingRequest
) -> BookingView:
    """The workflow begins and answers `hold` in one round trip."""
    start = WithStartWorkflowOperation(
        BookingWorkflow.run,
        BookingWorkflowInput(
            request,
            timings(settings),
        ),
        id=workflow_id(request.booking_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A rejected booking's workflow failed: the same key may try again.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.SESSION_ID, request.session_id),
                SearchAttributePair(sa.CUSTOMER_EMAIL, request.customer_email),
            ]
        ),
        static_summary=f"{request.quantity} place(s) for {request.customer_email}",
    )
    try:
        return await temporal.execute_update_with_start_workflow(
            BookingWorkflow.hold, request.request_fingerprint, start_workflow_operation=start
        )
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err


async def cancel_booking_workflow(
    temporal: Client, booking_id: str, request: CancelRequest, status_now: str
) -> BookingView:
    """Cancel and wait for the outcome (CANCELLED, or REFUNDED once Stripe has refunded)."""
    handle = temporal.get_workflow_handle(workflow_id(booking_id))
    try:
        return await handle.execute_update(BookingWorkflow.cancel, request)
    except WorkflowUpdateFailedError as err:
        raise as_booking_error(err) or err from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        detail = f"a booking that is {status_now} cannot be cancelled"
        raise BookingNotCancellable(detail) from None
