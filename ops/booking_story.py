"""One booking's story for `bookings show`: its state (the workflow's own view where a worker
answers, its database mirror for the rest), its workflow, and its timeline from the history."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from core.errors import BookingNotFound
from core.temporal import describe_or_none
from documents.receipt_data import format_money
from messages.booking import BookingView, booking_workflow_id
from models.tables import Booking, Session
from ops.readable import when
from ops.timeline import Step, timeline

# How long `show` waits for a worker to answer the workflow's `view` query.
VIEW_QUERY_SECONDS = 5.0


@dataclass(frozen=True)
class Story:
    booking: dict[str, Any]  # what the booking is (booking_fields)
    workflow: dict[str, Any] | None  # its id, run and status; None once it is gone
    steps: list[Step]

    def as_json(self) -> dict[str, Any]:
        return {
            "booking": self.booking,
            "workflow": self.workflow,
            "timeline": [{"at": step.at.isoformat(), "what": step.what} for step in self.steps],
        }


async def read_story(
    db: async_sessionmaker[AsyncSession], temporal: Client, booking_id: str
) -> Story:
    """The booking's story; BookingNotFound if neither its row nor its workflow exists."""
    mirror, session = await _mirror_and_session(db, booking_id)
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    described = await describe_or_none(handle)
    if described is None:
        if mirror is None:
            raise BookingNotFound(f"booking {booking_id} does not exist")
        return Story(booking_fields(booking_id, mirror, session, None), None, [])
    view = await _view(temporal, booking_id)
    steps = await timeline(await handle.fetch_history(), temporal.data_converter)
    workflow = (
        {"id": described.id, "run_id": described.run_id, "status": described.status.name}
        if described.status is not None
        else None
    )
    return Story(booking_fields(booking_id, mirror, session, view), workflow, steps)


async def _mirror_and_session(
    db: async_sessionmaker[AsyncSession], booking_id: str
) -> tuple[Booking | None, Session | None]:
    async with db() as s:
        mirror = await s.get(Booking, uuid.UUID(booking_id))
        session = await s.get(Session, mirror.session_id) if mirror else None
        return mirror, session


async def _view(temporal: Client, booking_id: str) -> BookingView | None:
    """The workflow's own view (needs a worker); None if none answers in time."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        async with asyncio.timeout(VIEW_QUERY_SECONDS):
            return await handle.query("view", result_type=BookingView)  # type: ignore[no-any-return]
    except (TimeoutError, RPCError):
        return None


def booking_fields(
    booking_id: str, mirror: Booking | None, session: Session | None, view: BookingView | None
) -> dict[str, Any]:
    """What the booking is: the workflow's view where it has one, the mirror for the rest."""
    source = view or mirror
    assert source is not None
    fields: dict[str, Any] = {
        "id": booking_id,
        "source": "workflow" if view else "database",
        "status": str(source.status),
        "status_reason": source.status_reason,
        "reference": source.reference,
        "session_id": str(source.session_id),
        "seats": list(source.seat_labels),
        "amount_subtotal": source.amount_subtotal,
        "discount": source.discount,
        "amount_total": source.amount_total,
        "currency": source.currency,
        "hold_expires_at": source.hold_expires_at.isoformat(),
        "payment_intent_id": source.payment_intent_id,
        "confirmed_at": source.confirmed_at.isoformat() if source.confirmed_at else None,
    }
    if view is not None:
        fields |= {
            "refund_ids": view.refund_ids,
            "payment_failures": view.payment_failures,
            "documents": view.documents,
            "emails_refused": [str(kind) for kind in view.emails_refused],
        }
    if mirror is not None:
        fields["customer"] = {"name": mirror.customer_name, "email": mirror.customer_email}
    if session is not None:
        fields["session"] = {
            "title": session.title,
            "location": session.location,
            "starts_at": session.starts_at.isoformat(),
        }
    return fields


def readable(story: Story) -> list[tuple[str, Any]]:
    """The story's facts for people, as (name, value) pairs."""
    shown, workflow = story.booking, story.workflow
    money = shown["currency"]
    session = shown.get("session")
    customer = shown.get("customer")
    return [
        ("booking", shown["id"]),
        ("status", f"{shown['status']} (from the {shown['source']})"),
        ("reason", shown["status_reason"]),
        ("reference", shown["reference"]),
        (
            "session",
            f"{session['title']} · {session['location']} · "
            f"{when(datetime.fromisoformat(session['starts_at']))} UTC · {shown['session_id']}"
            if session
            else shown["session_id"],
        ),
        ("customer", f"{customer['name']} <{customer['email']}>" if customer else None),
        ("places", f"{len(shown['seats'])}: {', '.join(shown['seats'])}"),
        (
            "amount",
            f"{format_money(shown['amount_total'], money)} "
            f"(subtotal {format_money(shown['amount_subtotal'], money)}, "
            f"discount {format_money(shown['discount'], money)})",
        ),
        ("hold ends", f"{when(datetime.fromisoformat(shown['hold_expires_at']))} UTC"),
        ("payment intent", shown["payment_intent_id"]),
        ("refunds", ", ".join(shown.get("refund_ids", []))),
        ("payment failures", "; ".join(shown.get("payment_failures", []))),
        ("documents", ", ".join(shown.get("documents", []))),
        ("emails refused", ", ".join(shown.get("emails_refused", []))),
        ("workflow", f"{workflow['id']} ({workflow['status']})" if workflow else "none"),
    ]


def timeline_rows(story: Story) -> list[tuple[str, str]]:
    return [(when(step.at), step.what) for step in story.steps]
