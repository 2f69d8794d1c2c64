"""Cancelling a session (issue 11): sales stop, then each open booking is cancelled or refunded
through its own workflow; starting it twice finds the same workflow; progress is shown."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy

from clients.booking_workflows import start_booking_workflow
from core.enums import BookingStatus, SessionStatus
from core.errors import SessionNotBookable
from core.settings import Settings
from messages.sessions import SessionCancellationInput, session_cancellation_id
from models.tables import Session
from tests.conftest import SessionFactory
from tests.helpers.stack import Stack
from tests.helpers.workflow_bookings import (
    book,
    booking_request,
    mirror_of,
    pay_and_tell,
    places_of,
    refunds_of,
    stripe_agrees,
)
from workflows.session_cancellation import SessionCancellationWorkflow

Db = async_sessionmaker[AsyncSession]


async def test_every_open_booking_is_cancelled_or_refunded_once(
    stack: Stack, quick: Settings
) -> None:
    session_id = await stack.new_session(capacity=6)
    pending = await book(stack.temporal, quick, session_id, 2)
    paid = await pay_and_tell(
        stack.temporal, stack.stripe_client, await book(stack.temporal, quick, session_id, 3)
    )
    start: dict[str, Any] = {
        "id": session_cancellation_id(session_id),
        "task_queue": quick.task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
    }

    first = await stack.temporal.start_workflow(
        SessionCancellationWorkflow.run, SessionCancellationInput(session_id), **start
    )
    second = await stack.temporal.start_workflow(  # an operator clicks twice
        SessionCancellationWorkflow.run, SessionCancellationInput(session_id), **start
    )
    result = await first.result()

    assert second.first_execution_run_id == first.first_execution_run_id
    assert (result.total, result.done, result.failed) == (2, 2, [])
    assert result.outcomes == {BookingStatus.CANCELLED: 1, BookingStatus.REFUNDED: 1}
    assert (await mirror_of(stack.db, pending.id)).status == BookingStatus.CANCELLED
    assert (await mirror_of(stack.db, paid.id)).status == BookingStatus.REFUNDED
    assert await places_of(stack.db, pending.id) == {} and await places_of(stack.db, paid.id) == {}
    assert [amount for amount, _ in await refunds_of(stack.stripe_client, paid)] == [
        paid.amount_total
    ]
    async with stack.db() as s:
        session = await s.get(Session, uuid.UUID(session_id))
    assert session is not None and session.status == SessionStatus.CANCELLED
    metadata = await first.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details.startswith("**2 of 2 bookings done, 0 failed**")

    with pytest.raises(SessionNotBookable):  # no sale after the stop
        await start_booking_workflow(stack.temporal, quick, booking_request(session_id))

    again = await stack.temporal.execute_workflow(  # started again after it ended: nothing left
        SessionCancellationWorkflow.run, SessionCancellationInput(session_id), **start
    )
    assert (again.total, again.failed) == (0, [])
    await stripe_agrees(stack, paid.id, 0)


async def test_a_session_that_has_started_cannot_be_cancelled(
    temporal: Client, quick: Settings, new_session: SessionFactory
) -> None:
    session_id = await new_session(capacity=2, starts_in=timedelta(0))
    with pytest.raises(WorkflowFailureError) as failed:
        await temporal.execute_workflow(
            SessionCancellationWorkflow.run,
            SessionCancellationInput(session_id),
            id=session_cancellation_id(session_id),
            task_queue=quick.task_queue,
        )
    assert "has started" in str(failed.value.cause.__cause__ or failed.value.cause)
