"""`booking-ops bookings`: find bookings through Temporal visibility, read one's story, and act
on it (cancel, refund, resend an email, end its hold) through its workflow.

Long because each command carries its own help text and output; the logic they share lives in
ops/timeline.py, ops/commands/display.py and ops/commands/runtime.py. Split by command when a
new one is added."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionDescription
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.notifications import NotificationActivities, notification_key
from api.booking_workflows import change_within, customer_cancel
from core.customer_hash import customer_hash
from core.errors import BookingError, BookingNotCancellable, BookingNotFound, ServiceUnavailable
from core.settings import Settings
from documents.receipt_data import format_money
from models import search_attributes as sa
from models.booking import (
    BookingView,
    EmailRequest,
    RefundOrder,
    booking_workflow_id,
)
from models.booking_records import get_booking
from models.enums import BookingStatus, DeliveryOutcome, EmailKind, NotificationStatus
from models.tables import Booking, Notification, Session
from ops.commands.display import console, details, print_json, refused, table, uuid_parser, when
from ops.commands.runtime import (
    BAD_USAGE,
    FOUND_PROBLEMS,
    UNREACHABLE,
    database,
    fail,
    run,
    settings_or_exit,
    temporal_client,
)
from ops.timeline import Step, timeline
from worker import make_mailer

app = typer.Typer(
    help="Find bookings (Temporal visibility), read one's story, and cancel, refund, resend an "
    "email or end a hold through its workflow. BOOKING_ID is the booking's UUID (its workflow "
    "is booking-BOOKING_ID).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

BookingId = Annotated[
    str, typer.Argument(parser=uuid_parser("booking"), metavar="BOOKING_ID", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        metavar="SECONDS",
        help="Wait this long for the outcome; after that the workflow finishes it on its own.",
    ),
]
EXPIRED_BY_OPERATOR = "expired by an operator"
# How long `show` waits for a worker to answer the workflow's `view` query.
VIEW_QUERY_SECONDS = 5.0


# ---- bookings list --------------------------------------------------------------------------


@app.command("list")
def list_(
    status: Annotated[
        list[BookingStatus] | None,
        typer.Option(help="Only bookings in this status (repeatable).", case_sensitive=False),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(parser=uuid_parser("session"), metavar="SESSION_ID", help="Of this session."),
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(
            parser=uuid_parser("organisation"),
            metavar="ORGANISATION_ID",
            help="Of this organisation's sessions (OrganisationId).",
        ),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            help="Of this customer: matched by the keyed hash of the email (CustomerHash), "
            "never the email itself."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Find bookings through Temporal visibility.

    Newest first. The query it runs is printed too (--json: "query"), to paste into the
    Temporal UI's search box. Visibility trails the workflows by a second or so.
    """
    settings = settings_or_exit()
    query = visibility_query(
        status or [],
        session,
        organisation,
        customer_hash(email, settings.customer_hash_key) if email else None,
    )

    async def work() -> list[WorkflowExecution]:
        temporal = await temporal_client(settings)
        return [found async for found in temporal.list_workflows(query, limit=limit)]

    found = [_listed(execution) for execution in run(work())]
    if as_json:
        print_json({"query": query, "bookings": found})
        return
    rows = [
        (
            b["id"],
            b["status"],
            b["reference"],
            b["session_id"],
            when(b["hold_expires_at"]),
            when(b["started_at"]),
            b["workflow_status"],
        )
        for b in found
    ]
    columns = ("booking", "status", "reference", "session", "hold ends", "started", "workflow")
    out = console()
    out.print(table(f"{len(found)} booking(s)", columns, rows))
    out.print(f"query: {query}")


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


def _listed(execution: WorkflowExecution) -> dict[str, Any]:
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


# ---- bookings show --------------------------------------------------------------------------


@app.command()
def show(booking_id: BookingId, as_json: AsJson = False) -> None:
    """One booking: its state, amounts and timeline.

    Its state comes from the workflow's own view (the `view` query, needs a worker), else from
    its database mirror; its timeline from the workflow history: each step's time and what
    happened (activities and timers by name, payment events, cancels, status changes).
    """
    settings = settings_or_exit()

    async def work() -> tuple[Booking | None, Session | None, Any, BookingView | None, list[Step]]:
        async with database(settings) as db:
            mirror, session = await _mirror_and_session(db, booking_id)
        temporal = await temporal_client(settings)
        handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
        try:
            described: WorkflowExecutionDescription | None = await handle.describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            described = None
        if mirror is None and described is None:
            refused(BookingNotFound(f"booking {booking_id} does not exist"))
        if described is None:
            return mirror, session, None, None, []
        view = await _view(temporal, booking_id)
        steps = await timeline(await handle.fetch_history(), temporal.data_converter)
        return mirror, session, described, view, steps

    mirror, session, described, view, steps = run(work())
    shown = _booking_fields(booking_id, mirror, session, view)
    workflow = (
        {"id": described.id, "run_id": described.run_id, "status": described.status.name}
        if described is not None and described.status is not None
        else None
    )
    if as_json:
        print_json(
            {
                "booking": shown,
                "workflow": workflow,
                "timeline": [{"at": step.at.isoformat(), "what": step.what} for step in steps],
            }
        )
        return
    out = console()
    out.print(details(_readable(shown, workflow)))
    if steps:
        rows = [(when(step.at), step.what) for step in steps]
        out.print(table("timeline (UTC)", ("when", "what happened"), rows))
    else:
        out.print("no workflow history (the workflow is gone: past its retention)")


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


def _booking_fields(
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


def _readable(shown: dict[str, Any], workflow: dict[str, Any] | None) -> list[tuple[str, Any]]:
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


# ---- bookings cancel / refund / expire-now ---------------------------------------------------


@app.command()
def cancel(
    booking_id: BookingId,
    reason: Annotated[str, typer.Option(help="Why, as the booking records it.")] = (
        "cancelled by an operator"
    ),
    wait: Wait = 60.0,
    as_json: AsJson = False,
) -> None:
    """Cancel a booking: released before payment, refunded after.

    Done by the booking's workflow (its `cancel` update), by the customer's rule: before
    payment the places are released (CANCELLED); after payment it is refunded by the session's
    refund policy, in full once the session is cancelled (REFUNDED). Cancelling again answers
    the first cancel's outcome. Exit 1 if the booking cannot be cancelled.
    """
    _act(booking_id, _cancel(booking_id, reason), None, wait, as_json)


@app.command()
def refund(
    booking_id: BookingId,
    amount: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="MINOR_UNITS",
            help="How much, in minor units (15000 is £150.00); at most what remains paid "
            "(more exits 2). Default: all that remains.",
        ),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, as the booking records it.")] = (
        "refunded by an operator"
    ),
    wait: Wait = 60.0,
    as_json: AsJson = False,
) -> None:
    """Refund a CONFIRMED booking, in part or all that remains paid.

    Done by the booking's workflow (its `refund` update): refunded through Stripe with a credit
    note for the amount and an email; once nothing remains paid the booking is REFUNDED and
    its places released. Each run is a new refund. Exit 1 if the booking is not CONFIRMED.
    """
    update_id = f"refund-{uuid.uuid4()}"

    async def send(temporal: Client, settings: Settings, mirror: Booking) -> BookingView | None:
        remaining = mirror.remaining
        if amount is not None and amount > remaining:
            left = format_money(remaining, mirror.currency)
            fail(f"--amount {amount}: only {remaining} ({left}) remains paid", BAD_USAGE)
        order = RefundOrder(amount or remaining, reason)
        return await change_within(temporal, settings, booking_id, order, mirror.status, update_id)

    _act(booking_id, send, BookingStatus.CONFIRMED, wait, as_json)


@app.command("expire-now")
def expire_now(booking_id: BookingId, wait: Wait = 60.0, as_json: AsJson = False) -> None:
    """End a PENDING_PAYMENT booking's hold now.

    The workflow has no message for that, so this is its `cancel` with the reason "expired by
    an operator": the PaymentIntent is cancelled and the places released, and the booking ends
    CANCELLED with that reason (or REFUNDED if the payment had succeeded meanwhile). Exit 1 if
    the booking is not PENDING_PAYMENT.
    """
    cancel = _cancel(booking_id, EXPIRED_BY_OPERATOR)
    _act(booking_id, cancel, BookingStatus.PENDING_PAYMENT, wait, as_json)


# Sends one message to the booking's workflow: its outcome, or None while still under way.
Send = Callable[[Client, Settings, Booking], Awaitable[BookingView | None]]


def _cancel(booking_id: str, reason: str) -> Send:
    """The customer's cancel (api.booking_workflows.customer_cancel), with the operator's reason."""

    async def send(temporal: Client, settings: Settings, mirror: Booking) -> BookingView | None:
        async with database(settings) as db, db() as s:
            request = await customer_cancel(s, mirror, reason)
        return await change_within(temporal, settings, booking_id, request, mirror.status)

    return send


def _act(
    booking_id: str, send: Send, needs: BookingStatus | None, wait: float, as_json: bool
) -> None:
    settings = settings_or_exit()

    async def work() -> tuple[Booking, BookingView | None]:
        async with database(settings) as db, db() as s:
            try:
                mirror = await get_booking(s, booking_id)
            except BookingError as err:
                refused(err)
        if needs is not None and mirror.status != needs:
            refused(BookingNotCancellable(f"booking {booking_id} is {mirror.status}, not {needs}"))
        temporal = await temporal_client(settings)
        patient = settings.model_copy(update={"cancel_wait_seconds": wait})
        try:
            view = await send(temporal, patient, mirror)
        except ServiceUnavailable as err:
            fail(f"Temporal: {err.detail} (is a worker running?)", UNREACHABLE)
        except BookingError as err:
            refused(err)
        return mirror, view

    mirror, view = run(work())
    if view is None:
        if as_json:
            print_json({"id": booking_id, "accepted": True, "status": None})
        else:
            console().print(
                f"booking {booking_id}: accepted, still under way; the workflow finishes it "
                "(see bookings show)"
            )
        return
    if as_json:
        print_json(
            {
                "id": booking_id,
                "accepted": True,
                "status": str(view.status),
                "status_reason": view.status_reason,
                "refund_ids": view.refund_ids,
                "amount_refunded": view.amount_refunded,
                "amount_total": view.amount_total,
                "currency": view.currency,
            }
        )
        return
    refunds = f"; refunds {', '.join(view.refund_ids)}" if view.refund_ids else ""
    console().print(
        f"booking {booking_id} is {view.status} ({view.status_reason}){refunds}; "
        f"was {mirror.status}"
    )


# ---- bookings resend -------------------------------------------------------------------------


@app.command()
def resend(
    email_kind: Annotated[
        EmailKind,
        typer.Argument(metavar="EMAIL_KIND", help="Which email.", case_sensitive=False),
    ],
    booking_id: BookingId,
    refund: Annotated[
        int | None,
        typer.Option(min=1, help="Which refund's email, for partly_refunded (1 is the first)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Send one email of a booking again.

    At most one email per (booking, kind) is the ledger's rule, so this clears that kind's row
    from the notifications ledger (one that is sent or failed; never one being sent) and then
    runs the email activity's own code in this process, with this shell's settings: the same
    mail backend as the worker (BOOKING_EMAIL_BACKEND, SendGrid key), the same email as the
    workflow sent (its refund amount read from the workflow history). Only an email that was
    sent (or refused) before can be sent again. Exit 1 if it cannot, 3 if the mail service
    is down (the row is then marked failed: run it again).
    """
    settings = settings_or_exit()

    async def work() -> tuple[DeliveryOutcome, str, str | None]:
        async with database(settings) as db:
            key = notification_key(booking_id, email_kind, refund)
            async with db.begin() as s:
                try:
                    await get_booking(s, booking_id)
                except BookingError as err:
                    refused(err)
                row = await s.get(Notification, key, with_for_update=True)
                if row is None:
                    never = f"no {email_kind} email was ever sent for booking {booking_id}"
                    refused(BookingError(never))
                if row.status == NotificationStatus.SENDING:
                    refused(
                        BookingError(
                            f"the {email_kind} email of booking {booking_id} is being sent right "
                            "now: try again in a minute"
                        )
                    )
                await s.delete(row)
            temporal = await temporal_client(settings)
            request = await _email_sent(temporal, booking_id, email_kind, refund)
            notifications = NotificationActivities(
                db,
                make_mailer(settings),
                settings.email_from,
                settings.seller_name,
                locale=settings.locale,
            )
            try:
                outcome = await notifications.send(request)
            except ApplicationError as err:
                await _mark_failed(db, key, str(err))
                fail(f"the mail service failed: {err}; run resend again", UNREACHABLE)
            async with db() as s:
                sent = await s.get(Notification, key)
                assert sent is not None
                return outcome.status, sent.recipient, sent.last_error

    status, recipient, error = run(work())
    if as_json:
        print_json({"id": booking_id, "kind": email_kind, "outcome": status, "error": error})
    elif status == DeliveryOutcome.REFUSED:
        console().print(f"the mail service refused the {email_kind} email: {error}")
    else:
        console().print(f"sent the {email_kind} email of booking {booking_id} to {recipient}")
    if status == DeliveryOutcome.REFUSED:
        raise typer.Exit(FOUND_PROBLEMS)


async def _email_sent(
    temporal: Client, booking_id: str, kind: EmailKind, refund: int | None
) -> EmailRequest:
    """The request the workflow sent this email with (its refund amount, if any)."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        history = await handle.fetch_history()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return EmailRequest(booking_id, kind)
    for event in history.events:
        attrs = event.activity_task_scheduled_event_attributes
        if (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and attrs.activity_type.name == "send_email"
        ):
            payloads = list(attrs.input.payloads)
            [sent] = await temporal.data_converter.decode(payloads, [EmailRequest])
            if sent.kind == kind and (refund is None or sent.refund_sequence == refund):
                return sent  # type: ignore[no-any-return]
    return EmailRequest(booking_id, kind, refund_sequence=refund)


async def _mark_failed(db: async_sessionmaker[AsyncSession], key: str, error: str) -> None:
    async with db.begin() as s:
        await s.execute(
            update(Notification)
            .where(Notification.key == key)
            .values(status=NotificationStatus.FAILED, last_error=error)
        )
