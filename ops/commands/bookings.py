"""`booking-ops bookings`: find bookings through Temporal visibility, read one's story, and act
on it (cancel, refund, resend an email, end its hold) through its workflow.

The commands parse, call and print: finding is ops/booking_search.py, the story
ops/booking_story.py, the actions ops/booking_actions.py and resending ops/email_resend.py."""

from typing import Annotated, Any

import typer

from core.customer_hash import customer_hash
from core.enums import BookingStatus, DeliveryOutcome, EmailKind
from core.errors import BookingError, ServiceUnavailable
from documents.receipt_data import format_money
from ops import booking_actions, booking_search, booking_story, email_resend
from ops.commands.display import (
    AsJson,
    console,
    details,
    print_json,
    refused,
    table,
    uuid_argument,
    uuid_parser,
)
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

app = typer.Typer(
    help="Find bookings (Temporal visibility), read one's story, and cancel, refund, resend an "
    "email or end a hold through its workflow. BOOKING_ID is the booking's UUID (its workflow "
    "is booking-BOOKING_ID).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

BookingId = Annotated[str, uuid_argument("booking", "BOOKING_ID")]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        metavar="SECONDS",
        help="Wait this long for the outcome; after that the workflow finishes it on its own.",
    ),
]


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
    query = booking_search.visibility_query(
        status or [],
        session,
        organisation,
        customer_hash(email, settings.customer_hash_key) if email else None,
    )

    async def work() -> list[dict[str, Any]]:
        return await booking_search.find_bookings(await temporal_client(settings), query, limit)

    found = run(work())
    if as_json:
        print_json({"query": query, "bookings": found})
        return
    rows = [booking_search.table_row(booking) for booking in found]
    out = console()
    out.print(table(f"{len(found)} booking(s)", booking_search.COLUMNS, rows))
    out.print(f"query: {query}")


# ---- bookings show --------------------------------------------------------------------------


@app.command()
def show(booking_id: BookingId, as_json: AsJson = False) -> None:
    """One booking: its state, amounts and timeline.

    Its state comes from the workflow's own view (the `view` query, needs a worker), else from
    its database mirror; its timeline from the workflow history: each step's time and what
    happened (activities and timers by name, payment events, cancels, status changes).
    """
    settings = settings_or_exit()

    async def work() -> booking_story.Story:
        async with database(settings) as db:
            temporal = await temporal_client(settings)
            try:
                return await booking_story.read_story(db, temporal, booking_id)
            except BookingError as err:
                refused(err)

    story = run(work())
    if as_json:
        print_json(story.as_json())
        return
    out = console()
    out.print(details(booking_story.readable(story)))
    if story.steps:
        rows = booking_story.timeline_rows(story)
        out.print(table("timeline (UTC)", ("when", "what happened"), rows))
    else:
        out.print("no workflow history (the workflow is gone: past its retention)")


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
    _act(booking_id, booking_actions.cancel(booking_id, reason), None, wait, as_json)


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
    send = booking_actions.refund(booking_id, amount, reason)
    _act(booking_id, send, BookingStatus.CONFIRMED, wait, as_json)


@app.command("expire-now")
def expire_now(booking_id: BookingId, wait: Wait = 60.0, as_json: AsJson = False) -> None:
    """End a PENDING_PAYMENT booking's hold now.

    The workflow has no message for that, so this is its `cancel` with the reason "expired by
    an operator": the PaymentIntent is cancelled and the places released, and the booking ends
    CANCELLED with that reason (or REFUNDED if the payment had succeeded meanwhile). Exit 1 if
    the booking is not PENDING_PAYMENT.
    """
    cancel = booking_actions.cancel(booking_id, booking_actions.EXPIRED_BY_OPERATOR)
    _act(booking_id, cancel, BookingStatus.PENDING_PAYMENT, wait, as_json)


def _act(
    booking_id: str,
    send: booking_actions.Send,
    needs: BookingStatus | None,
    wait: float,
    as_json: bool,
) -> None:
    settings = settings_or_exit()

    async def work() -> booking_actions.Outcome:
        async with database(settings) as db:
            try:
                mirror = await booking_actions.booking_in(db, booking_id, needs)
            except BookingError as err:
                refused(err)
            temporal = await temporal_client(settings)
            patient = settings.model_copy(update={"cancel_wait_seconds": wait})
            try:
                view = await send(db, temporal, patient, mirror)
            except booking_actions.AmountOverRemaining as err:
                left = format_money(err.remaining, err.currency)
                fail(
                    f"--amount {err.amount}: only {err.remaining} ({left}) remains paid", BAD_USAGE
                )
            except ServiceUnavailable as err:
                fail(f"Temporal: {err.detail} (is a worker running?)", UNREACHABLE)
            except BookingError as err:
                refused(err)
            return booking_actions.Outcome(booking_id, mirror.status, view)

    outcome = run(work())
    if as_json:
        print_json(outcome.as_json())
    else:
        console().print(outcome.line())


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

    async def work() -> email_resend.Resent:
        async with database(settings) as db:
            try:
                await email_resend.clear_sent(db, booking_id, email_kind, refund)
            except BookingError as err:
                refused(err)
            temporal = await temporal_client(settings)
            try:
                return await email_resend.send_again(
                    db, temporal, settings, booking_id, email_kind, refund
                )
            except email_resend.MailServiceFailed as err:
                fail(f"the mail service failed: {err}; run resend again", UNREACHABLE)

    resent = run(work())
    if as_json:
        print_json(
            {"id": booking_id, "kind": email_kind, "outcome": resent.status, "error": resent.error}
        )
    elif resent.status == DeliveryOutcome.REFUSED:
        console().print(f"the mail service refused the {email_kind} email: {resent.error}")
    else:
        console().print(
            f"sent the {email_kind} email of booking {booking_id} to {resent.recipient}"
        )
    if resent.status == DeliveryOutcome.REFUSED:
        raise typer.Exit(FOUND_PROBLEMS)
