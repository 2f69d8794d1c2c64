"""`booking-ops sessions`: list, show and create sessions (straight in PostgreSQL), show one's
waiting list (and put back entries stranded as accepted), show or replace its booking
questions, change one (its time or place announced to its bookings), and cancel one through its
cancellation workflow, following its progress.

The commands parse, call and print: reading the options is ops/session_input.py, shaping a
session ops/session_report.py, changing one ops/session_update.py, following a cancellation
ops/session_cancel.py, and the waiting list's repair ops/waiting_list_repair.py."""

import sys
import uuid
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import TextColumn

from core.enums import SessionKind
from core.errors import BookingError
from messages.sessions import SessionCancellationProgress
from models.tables import Session, WaitingListEntry
from ops import session_cancel, session_input, session_report, session_update
from ops.commands.display import (
    AsJson,
    console,
    details,
    moment,
    print_json,
    progress_bar,
    refused,
    sessions_option,
    table,
    uuid_argument,
    uuid_parser,
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
from ops.validation import problems
from ops.waiting_list_repair import Requeued, repair_stranded
from schemas.questions import QuestionSetIn, QuestionSetOut
from store.catalog import Availability, SessionFilter, SessionLock, list_sessions, session_of
from store.questions import replace_question_set
from store.session_changes import AcceptOrRefund, SessionPatch
from store.waiting_list import entries_of

app = typer.Typer(
    help="List, show, create, change and cancel sessions; a session's waiting list and questions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SessionId = Annotated[str, uuid_argument("session", "SESSION_ID")]
OrganisationId = Annotated[
    str | None,
    typer.Option(
        parser=uuid_parser("organisation"),
        metavar="ORGANISATION_ID",
        help="Of this organisation (default for create: the default organisation).",
    ),
]


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
        print_json({"items": [session_report.as_json(*found) for found in page], "total": total})
        return
    rows = [session_report.table_row(*found) for found in page]
    title = f"{len(page)} of {total} session(s)"
    console().print(table(title, session_report.COLUMNS, rows))


@app.command()
def show(session_id: SessionId, as_json: AsJson = False) -> None:
    """One session, its places and its bookings by status."""
    settings = settings_or_exit()

    async def work() -> tuple[Session, Availability, dict[str, int]]:
        async with database(settings) as db, db() as s:
            try:
                return await session_report.session_with_bookings(s, session_id)
            except BookingError as err:
                refused(err)

    session, availability, bookings = run(work())
    if as_json:
        print_json({**session_report.as_json(session, availability), "bookings": bookings})
        return
    out = console()
    out.print(details(session_report.facts(session, availability)))
    if bookings:
        out.print(table("bookings", ("status", "how many"), sorted(bookings.items())))


@app.command("waiting-list")
def waiting_list(session_id: SessionId, as_json: AsJson = False) -> None:
    """One session's waiting list: its status and every entry in join order, with its offer."""
    settings = settings_or_exit()

    async def work() -> tuple[Session, list[WaitingListEntry]]:
        async with database(settings) as db, db() as s:
            try:
                return await entries_of(s, session_id, None)
            except BookingError as err:
                refused(err)

    session, entries = run(work())
    rows = [
        {
            "id": str(e.id),
            "state": e.state,
            "places": ", ".join(e.seat_labels) or e.quantity,
            "skipped": e.skipped_count,
            "offered": ", ".join(e.offer_seat_labels),
            "offer_expires_at": e.offer_expires_at,
            "booking_id": e.booking_id,
            "joined": e.created_at,
        }
        for e in entries
    ]
    status = session.waiting_list_status
    if as_json:
        print_json({"session_id": session_id, "status": status, "entries": rows})
        return
    columns = list(rows[0]) if rows else ["id"]
    title = f"waiting list {status}: {len(entries)} entr(ies)"
    console().print(table(title, columns, [list(row.values()) for row in rows]))


@app.command("waiting-list-repair")
def waiting_list_repair(
    session: Annotated[
        list[str] | None,
        sessions_option("Repair only this session's list (repeatable). Default: every session."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Put back on their list the entries accepted whose booking does not exist (reconcile's
    accepted-without-booking): each waits again at its old place, and its list is nudged to
    offer it the places again. Safe to run twice."""
    settings = settings_or_exit()

    async def work() -> list[Requeued]:
        async with database(settings) as db:
            temporal = await temporal_client(settings)
            return await repair_stranded(db, temporal, settings.task_queue, session)

    requeued = run(work())
    if as_json:
        print_json(
            {"requeued": [{"entry_id": r.entry_id, "session_id": r.session_id} for r in requeued]}
        )
        return
    rows = [(r.entry_id, r.session_id) for r in requeued]
    console().print(table(f"{len(rows)} entr(ies) waiting again", ("entry", "session"), rows))


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
    currency: Annotated[
        str | None, typer.Option(help="ISO 4217 code; default: the organisation's.")
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(
            help="IANA zone where it happens (documents show its local times); default: the "
            "organisation's."
        ),
    ] = None,
    hold_seconds: Annotated[int, typer.Option(help="How long places are held unpaid.")] = 600,
    vat: Annotated[
        str,
        typer.Option(
            metavar="organisation|none|BASIS_POINTS",
            help="The VAT its price includes: the organisation's rate, none (no VAT line), or "
            "a rate of its own in basis points (0 for zero-rated, 500 for 5 %).",
        ),
    ] = "organisation",
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
    fields = {
        "kind": kind,
        "title": title,
        "location": location,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "price_amount": price_amount,
        "currency": currency,
        "time_zone": time_zone,
        "hold_seconds": hold_seconds,
        "capacity": capacity,
    }
    try:
        given = {name: value for name, value in fields.items() if value is not None}
        spec = session_input.session_spec(
            {**given, **session_input.vat_fields(vat)},
            seat_rows=seat_row or [],
            discount=discount,
            refund_tiers=refund_tier or [],
            organisation=organisation,
        )
    except session_input.BadSessionInput as err:
        fail(str(err), BAD_USAGE)

    async def work() -> Session:
        async with database(settings) as db, db.begin() as s:
            try:
                return await session_input.create(s, spec)
            except session_input.BadSessionInput as err:
                fail(str(err), BAD_USAGE)

    session = run(work())
    availability = Availability(session.capacity, 0, 0)
    if as_json:
        print_json(session_report.as_json(session, availability))
        return
    console().print(f"created session {session.id}")
    console().print(details(session_report.facts(session, availability)))


@app.command()
def update(
    session_id: SessionId,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    location: Annotated[str | None, typer.Option(help="A new place.")] = None,
    starts_at: Annotated[
        datetime | None,
        typer.Option(
            parser=moment, metavar="WHEN", help="ISO time, UTC if no zone; alone, the end moves."
        ),
    ] = None,
    ends_at: Annotated[
        datetime | None, typer.Option(parser=moment, metavar="WHEN", help="ISO time.")
    ] = None,
    capacity: Annotated[
        int | None, typer.Option(help="Places; never below those sold, held and offered.")
    ] = None,
    refund_window: Annotated[
        int | None,
        typer.Option(
            metavar="SECONDS",
            help="With --starts-at: every booking may cancel with a full refund for this long.",
        ),
    ] = None,
    refund_min_shift: Annotated[
        int,
        typer.Option(metavar="SECONDS", help="Only if the start moves by more than this."),
    ] = 0,
    wait: Annotated[
        bool, typer.Option(help="Follow the announcement until every booking is told.")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Change a session as PATCH /v1/sessions/{id} does.

    A new time or place is announced to every open booking by the workflow
    session-change-SESSION_ID-N (an email with the updated calendar file, its reminder moved,
    booking.updated webhooks). Exit 1 when refused (nothing changed) or a booking could not be
    told (run the same command again: each booking is told once).
    """
    settings = settings_or_exit()
    window = AcceptOrRefund(refund_window, refund_min_shift) if refund_window else None
    patch = SessionPatch(title, location, starts_at, ends_at, capacity, window)

    async def work() -> session_update.Updated:
        async with database(settings) as db:
            temporal = await temporal_client(settings)
            try:
                return await session_update.update(db, temporal, settings, session_id, patch, wait)
            except BookingError as err:
                refused(err)

    updated = run(work())
    failed = bool(updated.told and updated.told.failed)
    if as_json:
        print_json(
            {
                **session_report.as_json(updated.session, updated.availability),
                "change": session_update.change_json(updated),
            }
        )
    else:
        console().print(session_update.headline(updated))
        console().print(details(session_report.facts(updated.session, updated.availability)))
    raise typer.Exit(FOUND_PROBLEMS if failed else OK)


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
                await session_cancel.check_cancellable(s, session_id)
            except BookingError as err:
                refused(err)
        temporal = await temporal_client(settings)
        if not wait:
            return await session_cancel.cancel(temporal, settings, session_id, reason, None)
        failed = TextColumn("{task.fields[failed]} failed")
        with progress_bar("cancelling bookings", failed, enabled=show_progress) as bar:
            task = bar.add_task("cancel", total=None, failed=0)

            def tell(now: SessionCancellationProgress) -> None:
                bar.update(
                    task, completed=now.done, total=now.total or None, failed=len(now.failed)
                )

            try:
                return await session_cancel.cancel(temporal, settings, session_id, reason, tell)
            except BookingError as err:
                refused(err)

    outcome, finished = run(work())
    if as_json:
        print_json(session_cancel.progress_json(outcome, finished))
    else:
        _print_progress(outcome, finished)
    raise typer.Exit(FOUND_PROBLEMS if outcome.failed else OK)


def _print_progress(outcome: SessionCancellationProgress, finished: bool) -> None:
    out = console()
    out.print(session_cancel.headline(outcome, finished))
    if outcome.outcomes:
        out.print(table("bookings now", ("status", "how many"), sorted(outcome.outcomes.items())))
    if outcome.failed:
        rows = [(failure.booking_id, failure.error) for failure in outcome.failed]
        out.print(table("failed (run the command again to retry)", ("booking", "error"), rows))
    if not finished:
        out.print(session_cancel.follow_hint(outcome))


questions = typer.Typer(
    help="Show or replace a session's booking questions and consents.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(questions, name="questions")


@questions.command("show")
def questions_show(session_id: SessionId, as_json: AsJson = False) -> None:
    """The questions a booking of the session answers and the consents it accepts."""
    settings = settings_or_exit()

    async def work() -> QuestionSetOut:
        async with database(settings) as db, db() as s:
            try:
                return QuestionSetOut.of(await session_of(s, session_id, None))
            except BookingError as err:
                refused(err)

    _print_question_set(run(work()), as_json)


@questions.command("set")
def questions_set(
    session_id: SessionId,
    file: Annotated[
        typer.FileText,
        typer.Argument(help="JSON as PUT /v1/sessions/{id}/questions takes; - reads stdin."),
    ],
    as_json: AsJson = False,
) -> None:
    """Replace the questions and consents; answers already given keep their question as it was,
    a consent whose text changed gets the next version."""
    settings = settings_or_exit()
    try:
        body = QuestionSetIn.model_validate_json(file.read())
    except ValidationError as err:
        fail(f"bad question set: {problems(err, 'the file')}", BAD_USAGE)

    async def work() -> QuestionSetOut:
        async with database(settings) as db, db.begin() as s:
            try:
                session = await session_of(s, session_id, None, lock=SessionLock.UPDATE)
            except BookingError as err:
                refused(err)
            await replace_question_set(
                s,
                session,
                [q.model_dump(mode="json") for q in body.questions],
                [c.model_dump(mode="json") for c in body.consents],
            )
            return QuestionSetOut.of(session)

    _print_question_set(run(work()), as_json)


def _print_question_set(found: QuestionSetOut, as_json: bool) -> None:
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    out = console()
    out.print(
        table(
            "questions",
            ("key", "label", "type", "scope", "required", "options", "min age"),
            [
                (q.key, q.label, q.type, q.scope, q.required, " | ".join(q.options), q.min_age)
                for q in found.questions
            ],
        )
    )
    out.print(
        table(
            "consents",
            ("key", "title", "version"),
            [(c.key, c.title, c.version) for c in found.consents],
        )
    )
