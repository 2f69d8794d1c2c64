"""Bookings found through Temporal visibility: the query for an operator's filters, and each
execution found as a booking's row."""

import uuid
from typing import Any

from temporalio.client import Client, WorkflowExecution

from core.enums import BookingStatus
from messages import search_attributes as sa
from messages.booking import booking_workflow_id
from ops.readable import when

COLUMNS = ("booking", "status", "reference", "session", "hold ends", "started", "workflow")


def visibility_query(
    statuses: list[BookingStatus],
    session_id: str | None,
    organisation_id: str | None,
    customer: str | None,
) -> str:
    """The visibility query for these filters (values are enum members, UUIDs and hex hashes:
    nothing to escape)."""
    clauses = ['WorkflowType = "BookingWorkflow"']
    if statuses:
        listed = ", ".join(f'"{BookingStatus(s).value}"' for s in dict.fromkeys(statuses))
        clauses.append(f"{sa.BOOKING_STATUS.name} IN ({listed})")
    if session_id:
        clauses.append(f'{sa.SESSION_ID.name} = "{uuid.UUID(session_id)}"')
    if organisation_id:
        clauses.append(f'{sa.ORGANISATION_ID.name} = "{uuid.UUID(organisation_id)}"')
    if customer:
        clauses.append(f'{sa.CUSTOMER_HASH.name} = "{customer}"')
    return " AND ".join(clauses)


async def find_bookings(temporal: Client, query: str, limit: int) -> list[dict[str, Any]]:
    """The bookings the query finds, newest first, as their JSON rows."""
    return [listed(found) async for found in temporal.list_workflows(query, limit=limit)]


def listed(execution: WorkflowExecution) -> dict[str, Any]:
    found = execution.typed_search_attributes
    hold = found.get(sa.HOLD_EXPIRES_AT)
    return {
        "id": execution.id.removeprefix(booking_workflow_id("")),
        "status": found.get(sa.BOOKING_STATUS),
        "reference": found.get(sa.BOOKING_REFERENCE),
        "session_id": found.get(sa.SESSION_ID),
        "organisation_id": found.get(sa.ORGANISATION_ID),
        "hold_expires_at": hold,
        "workflow_id": execution.id,
        "workflow_status": execution.status.name if execution.status else None,
        "started_at": execution.start_time,
        "closed_at": execution.close_time,
    }


def table_row(booking: dict[str, Any]) -> tuple[Any, ...]:
    """A found booking as a row under COLUMNS."""
    return (
        booking["id"],
        booking["status"],
        booking["reference"],
        booking["session_id"],
        when(booking["hold_expires_at"]),
        when(booking["started_at"]),
        booking["workflow_status"],
    )
