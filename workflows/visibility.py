"""What operators see of a booking in the Temporal UI: search attributes and current details.

Nothing personal goes here: visibility is not covered by a payload codec.
"""

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa
    from models.booking import BookingView
    from models.enums import BookingStatus


def publish(view: BookingView) -> None:
    updates: list[SearchAttributeUpdate[Any]] = [
        sa.BOOKING_STATUS.value_set(view.status.value),
        sa.HOLD_EXPIRES_AT.value_set(view.hold_expires_at),
    ]
    if view.reference:
        updates.append(sa.BOOKING_REFERENCE.value_set(view.reference))
    workflow.upsert_search_attributes(updates)
    workflow.set_current_details(
        f"**{view.status.value}**" + (f" — {view.status_reason}" if view.status_reason else "")
    )


def publish_rejected() -> None:
    workflow.upsert_search_attributes([sa.BOOKING_STATUS.value_set(BookingStatus.REJECTED)])
