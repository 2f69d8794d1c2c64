"""What operators see of a booking in the Temporal UI: search attributes and current details.

Nothing personal goes here: visibility is not covered by a payload codec.
"""

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from core.enums import BookingStatus
    from documents.receipt_data import format_money, format_utc
    from messages import search_attributes as sa
    from messages.booking import BookingView


def publish(view: BookingView) -> None:
    updates: list[SearchAttributeUpdate[Any]] = [
        sa.BOOKING_STATUS.value_set(view.status.value),
        sa.HOLD_EXPIRES_AT.value_set(view.hold_expires_at),
    ]
    if view.reference:
        updates.append(sa.BOOKING_REFERENCE.value_set(view.reference))
    workflow.upsert_search_attributes(updates)
    workflow.set_current_details(current_details(view))


def current_details(view: BookingView) -> str:
    """Where the booking stands, as the Temporal UI shows it (Markdown)."""
    lines = [
        f"**{view.status.value}**" + (f" — {view.status_reason}" if view.status_reason else "")
    ]
    if view.reference:
        lines.append(f"Reference {view.reference}")
    if view.status == BookingStatus.PENDING_PAYMENT:
        lines.append(f"Hold ends {format_utc(view.hold_expires_at)}")
    lines.append(
        f"{len(view.seat_labels)} place(s): {', '.join(view.seat_labels)} · "
        f"{format_money(view.amount_total, view.currency)}"
    )
    return "\n\n".join(lines)


def publish_moved(view: BookingView) -> None:
    """The booking now of another session: operators find it under that session."""
    workflow.upsert_search_attributes([sa.SESSION_ID.value_set(view.session_id)])
    workflow.set_current_details(current_details(view))


def publish_rejected() -> None:
    workflow.upsert_search_attributes([sa.BOOKING_STATUS.value_set(BookingStatus.REJECTED)])
