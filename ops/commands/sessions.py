"""`booking-ops sessions`: list, show and create sessions (straight in PostgreSQL), and cancel one
through its cancellation workflow, following its progress.

Long because each command carries its own help text and output; what they share lives in
ops/commands/display.py and ops/commands/runtime.py."""

import asyncio
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError

from api.schemas import SessionCreate
from api.session_cancellation import (
    CancellationHandle,
    progress_of,
    start_session_cancellation,
)
from core.errors import BookingError, SessionNotBookable, as_booking_error
from core.refund_policy import tiers_of
from documents.receipt_data import format_money
from models.catalog import (
    Availability,
    SeatRow,
    SessionFilter,
    SessionSpec,
    create_session,
    get_session,
    list_sessions,
)
from models.enums import SessionKind, SessionStatus
from models.sessions import SessionCancellationProgress, session_cancellation_id
from models.tables import Booking, Organisation, Session
from ops.commands.display import (
    console,
    details,
    moment,
    print_json,
    refused,
    table,
    uuid_parser,
    when,
)
from ops.commands.runtime import (
    BAD_USAGE,
    FOUND_PROBLEMS,
    OK,
    database,
    fail,
    run,
    settings_or_exit,
    temporal_client,
)

app = typer.Typer(
    help="List, show, create and cancel sessions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SessionId = Annotated[
    str, typer.Argument(parser=uuid_parser("session"), metavar="SESSION_ID", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OrganisationId = Annotated[
    str | None,
    typer.Option(
        parser=uuid_parser("organisation"),
        metavar="ORGANISATION_ID",
        help="Of this organisation (default for create: the default organisation).",
    ),
]
# How often a followed cancellation is asked how far it is.
POLL_SECONDS = 0.5


@app.command("list")
def list_(
    kind: Annotated[SessionKind | None, typer.Option(help="Only this kind.")] = None,
    location: Annotated[str | None, typer.Option(help="Location contains this.")] = None,
    starts_after: Annotated[
        datetime | None, typer.Option(parser=moment, metavar="WHEN", help="ISO date or time.")
    ] = None,
    starts_before: Annotated[
        datetime | None, typer.Option(parser=moment, metavar="WHEN", help="ISO date or time.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", "-q", help="Title or location contains this.")
    ] = None,
    organisation: OrganisationId = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    as_json: AsJson = False,
) -> None:
    """Sessions in start order, with their places."""
    settings = settings_or_exit()
    owner = uuid.UUID(organisation) if organisation else None
    where = SessionFilter(kind, location, starts_after, starts_before, text, owner)

    async def work() -> tuple[list[tuple[Session, Availability]], int]:
        async with database(settings) as db, db() as s:
            return await list_sessions(s, where, limit, offset)

    page, total = run(work())
    if as_json:
        print_json({"items": [_as_json(*found) for found in page], "total": total})
        return
    rows = [
        (
            session.id,
            session.kind,
            session.title,
            session.location,
            when(session.starts_at),
            session.status,
            f"{a.held}/{a.sold}/{a.available} of {a.capacity}",
            format_money(session.price_amount, session.currency),
        )
        for session, a in page
    ]
    columns = ("id", "kind", "title", "location", "starts (UTC)", "status", "held/sold/free")
    console().print(table(f"{len(page)} of {total} session(s)", (*columns, "price"), rows))


@app.command()
def show(session_id: SessionId, as_json: AsJson = False) -> None:
    """One session, its places and its bookings by status."""
    settings = settings_or_exit()

    async def work() -> tuple[Session, Availability, dict[str, int]]:
        async with database(settings) as db, db() as s:
            try:
                session, availability = await get_session(s, session_id)
            except BookingError as err:
                refused(err)
            counted = await s.execute(
                select(Booking.status, func.count())
                .where(Booking.session_id == session.id)
                .group_by(Booking.status)
            )
            return session, availability, {status: n for status, n in counted.all()}

    session, availability, bookings = run(work())
    if as_json:
        print_json({**_as_json(session, availability), "bookings": bookings})
        return
    out = console()
    out.print(_details(session, availability))
    if bookings:
        out.print(table("bookings", ("status", "how many"), sorted(bookings.items())))


@app.command()
def create(
    title: Annotated[str, typer.Option(help="What it is, e.g. 'First Aid at Work'.")],
    location: Annotated[str, typer.Option(help="Where, e.g. 'Leeds'.")],
    starts_at: Annotated[
        datetime, typer.Option(parser=moment, metavar="WHEN", help="ISO time; UTC if no zone.")
    ],
    ends_at: Annotated[
        datetime, typer.Option(parser=moment, metavar="WHEN", help="ISO time; UTC if no zone.")
    ],
    price_amount: Annotated[
        int, typer.Option(help="Price of one place in minor units: 7500 is £75.00.")
    ],
    kind: Annotated[SessionKind, typer.Option(help="seated needs --seat-row.")] = (
        SessionKind.COURSE
    ),
    capacity: Annotated[int | None, typer.Option(help="Places of a course or appointment.")] = None,
    seat_row: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LABEL=SEATS",
            help="A row of a seated session, e.g. A=10 for A1 to A10 (repeatable).",
        ),
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "GBP",
    time_zone: Annotated[
        str, typer.Option(help="IANA zone where it happens; documents show its local times.")
    ] = "UTC",
    hold_seconds: Annotated[int, typer.Option(help="How long places are held unpaid.")] = 600,
    discount: Annotated[
        str,
        typer.Option(
            metavar="MIN:PERCENT",
            help="Group discount: PERCENT off for MIN places or more; 'none' for no discount.",
        ),
    ] = "5:10",
    refund_tier: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DAYS:PERCENT",
            help="Refund policy: PERCENT back on cancelling until DAYS days before the start "
            "(repeatable; default 0:100, in full until the start; 'none' for no refund).",
        ),
    ] = None,
    organisation: OrganisationId = None,
    as_json: AsJson = False,
) -> None:
    """Create a session with its places.

    Checked as the API checks them (POST /v1/sessions); written straight to PostgreSQL.
    """
    settings = settings_or_exit()
    body = _session_body(
        kind=kind,
        title=title,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        price_amount=price_amount,
        currency=currency,
        time_zone=time_zone,
        hold_seconds=hold_seconds,
        capacity=capacity,
        seat_map=[_seat_row(row) for row in seat_row or []],
        group_discount=_discount(discount),
        refund_policy=_refund_policy(refund_tier),
    )
    spec = SessionSpec(
        **body.model_dump(exclude={"capacity", "seat_map", "group_discount", "refund_policy"}),
        capacity=body.capacity,
        seat_map=[SeatRow(row.label, row.seats) for row in body.seat_map],
        discount_min_quantity=body.group_discount.min_quantity if body.group_discount else 0,
        discount_basis_points=body.group_discount.percent * 100 if body.group_discount else 0,
        organisation_id=uuid.UUID(organisation) if organisation else None,
        refund_policy=[tier.model_dump() for tier in body.refund_policy],
    )

    async def work() -> Session:
        async with database(settings) as db, db.begin() as s:
            if spec.organisation_id and not await s.get(Organisation, spec.organisation_id):
                fail(f"--organisation: no organisation {spec.organisation_id}", BAD_USAGE)
            try:
                return await create_session(s, spec)
            except BookingError as err:
                fail(f"bad session: {err.detail}", BAD_USAGE)

    session = run(work())
    availability = Availability(session.capacity, 0, 0)
    if as_json:
        print_json(_as_json(session, availability))
        return
    console().print(f"created session {session.id}")
    console().print(_details(session, availability))


@app.command()
def cancel(
    session_id: SessionId,
    reason: Annotated[
        str, typer.Option(help="Why, as the bookings will record it.")
    ] = "the session was cancelled",
    wait: Annotated[
        bool,
        typer.Option(
            help="Follow the cancellation until every booking is done (--no-wait: start it "
            "and return at once)."
        ),
    ] = True,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar (on a terminal only).")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Cancel a session and every open booking of it.

    Sales stop, then every open booking is cancelled or refunded through the session's
    cancellation workflow (id session-cancellation-SESSION_ID, visible in the Temporal UI; a
    worker runs it), with a progress bar on a terminal.

    Safe to run twice: while it runs, this follows it; after it has ended, it finishes what
    is left (bookings that failed). Exit 0 when every booking was dealt with, 1 when some
    failed (run it again to retry them) or the session cannot be cancelled (it has started).
    """
    settings = settings_or_exit()
    show_progress = wait and progress and not as_json and sys.stderr.isatty()

    async def work() -> tuple[SessionCancellationProgress, bool]:
        async with database(settings) as db, db() as s:
            try:
                session, _ = await get_session(s, session_id)
            except BookingError as err:
                refused(err)
            if session.status != SessionStatus.CANCELLED and session.starts_at <= datetime.now(UTC):
                refused(SessionNotBookable("a session that has started cannot be cancelled"))
        temporal = await temporal_client(settings)
        handle = await start_session_cancellation(temporal, settings, session_id, reason)
        if not wait:
            return await progress_of(handle, session_id, settings.workflow_accept_seconds), False
        with _ProgressBar(enabled=show_progress) as bar:
            return await _follow(handle, session_id, bar), True

    outcome, finished = run(work())
    if as_json:
        print_json(_progress_json(outcome, finished))
    else:
        _print_progress(outcome, finished)
    raise typer.Exit(FOUND_PROBLEMS if outcome.failed else OK)


async def _follow(
    handle: CancellationHandle, session_id: str, bar: "_ProgressBar"
) -> SessionCancellationProgress:
    """The outcome, asking the workflow how far it is meanwhile."""
    result = asyncio.ensure_future(handle.result())
    try:
        while not result.done():
            await asyncio.wait({result}, timeout=POLL_SECONDS)
            if not result.done():
                bar.show(await progress_of(handle, session_id, POLL_SECONDS * 4))
        return result.result()
    except WorkflowFailureError as err:
        found = as_booking_error(err)
        if found is None:
            raise
        refused(found)
    finally:
        result.cancel()


def _print_progress(outcome: SessionCancellationProgress, finished: bool) -> None:
    out = console()
    state = "cancelled" if finished else "being cancelled"
    out.print(
        f"session {outcome.session_id} {state}: {outcome.done} of {outcome.total} booking(s) "
        f"done, {len(outcome.failed)} failed"
    )
    if outcome.outcomes:
        out.print(table("bookings now", ("status", "how many"), sorted(outcome.outcomes.items())))
    if outcome.failed:
        rows = [(failure.booking_id, failure.error) for failure in outcome.failed]
        out.print(table("failed (run the command again to retry)", ("booking", "error"), rows))
    if not finished:
        out.print(
            f"follow it: booking-ops sessions cancel {outcome.session_id}, or the Temporal UI "
            f"(workflow {session_cancellation_id(outcome.session_id)})"
        )


def _progress_json(outcome: SessionCancellationProgress, finished: bool) -> dict[str, Any]:
    return {
        "session_id": outcome.session_id,
        "workflow_id": session_cancellation_id(outcome.session_id),
        "finished": finished,
        "total": outcome.total,
        "done": outcome.done,
        "bookings": dict(Counter(outcome.outcomes)),
        "failed": [{"booking_id": f.booking_id, "error": f.error} for f in outcome.failed],
    }


def _session_body(**fields: Any) -> SessionCreate:
    try:
        return SessionCreate.model_validate(fields)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'session'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        fail(f"bad session: {problems}", BAD_USAGE)


def _seat_row(value: str) -> dict[str, Any]:
    label, _, seats = value.partition("=")
    if not seats.isdigit():
        fail(f"--seat-row {value!r}: give LABEL=SEATS, e.g. A=10", BAD_USAGE)
    return {"label": label, "seats": int(seats)}


def _refund_policy(tiers: list[str] | None) -> list[dict[str, int]]:
    if [tier.strip().lower() for tier in tiers or []] == ["none"]:
        return []
    return [_refund_tier(tier) for tier in tiers or ["0:100"]]


def _refund_tier(value: str) -> dict[str, int]:
    days, _, percent = value.partition(":")
    if not (days.isdigit() and percent.isdigit()):
        fail(f"--refund-tier {value!r}: give DAYS:PERCENT, e.g. 14:100", BAD_USAGE)
    return {"days_before": int(days), "percent": int(percent)}


def _discount(value: str) -> dict[str, int] | None:
    if value.strip().lower() == "none":
        return None
    minimum, _, percent = value.partition(":")
    if not (minimum.isdigit() and percent.isdigit()):
        fail(f"--discount {value!r}: give MIN:PERCENT, e.g. 5:10, or none", BAD_USAGE)
    return {"min_quantity": int(minimum), "percent": int(percent)}


def _as_json(session: Session, availability: Availability) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "kind": session.kind,
        "title": session.title,
        "location": session.location,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "status": session.status,
        "organisation_id": str(session.organisation_id),
        "price_amount": session.price_amount,
        "currency": session.currency,
        "time_zone": session.time_zone,
        "hold_seconds": session.hold_seconds,
        "refund_policy": [vars(tier) for tier in tiers_of(session.refund_policy)],
        "group_discount": (
            {
                "min_quantity": session.discount_min_quantity,
                "percent": session.discount_basis_points // 100,
            }
            if session.discount_basis_points
            else None
        ),
        "availability": {
            "capacity": availability.capacity,
            "held": availability.held,
            "sold": availability.sold,
            "available": availability.available,
        },
    }


def _details(session: Session, a: Availability) -> Any:
    discount = (
        f"{session.discount_basis_points // 100}% off for {session.discount_min_quantity} or more"
        if session.discount_basis_points
        else "none"
    )
    return details(
        [
            ("id", session.id),
            ("title", session.title),
            ("kind", session.kind),
            ("location", session.location),
            ("starts", f"{when(session.starts_at)} UTC"),
            ("ends", f"{when(session.ends_at)} UTC"),
            ("time zone", session.time_zone),
            ("status", session.status),
            ("organisation", session.organisation_id),
            ("price", format_money(session.price_amount, session.currency)),
            ("group discount", discount),
            ("hold", f"{session.hold_seconds} s"),
            ("places", f"{a.capacity}: {a.held} held, {a.sold} sold, {a.available} free"),
        ]
    )


class _ProgressBar:
    """The cancellation's progress on stderr, gone when it ends."""

    def __init__(self, *, enabled: bool):
        self._bar = Progress(
            TextColumn("cancelling bookings"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=not enabled,
        )
        self._task = self._bar.add_task("cancel", total=None, failed=0)

    def __enter__(self) -> "_ProgressBar":
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def show(self, progress: SessionCancellationProgress) -> None:
        self._bar.update(
            self._task,
            completed=progress.done,
            total=progress.total or None,
            failed=len(progress.failed),
        )
