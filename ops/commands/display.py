"""What the command groups share to talk to people and scripts: ids and moments as arguments,
tables and JSON out, and a refusal as one line."""

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from core.errors import BookingError
from ops.commands.runtime import FOUND_PROBLEMS, fail

# Wide enough for a row of UUIDs and times.
PIPED_WIDTH = 200

# The `--json` option every listing command takes.
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def uuid_parser(noun: str) -> Callable[[str], str]:
    """A parser that takes a UUID (any spelling) and gives it back in its canonical form."""

    def parse(value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a {noun} id (a UUID)") from None

    return parse


def uuid_argument(noun: str, metavar: str) -> Any:
    """A command's argument that names a thing by its UUID (see `uuid_parser`)."""
    return typer.Argument(parser=uuid_parser(noun), metavar=metavar, show_default=False)


def sessions_option(help: str) -> Any:
    """`--session`/`-s` SESSION_ID, repeatable: limits a command to these sessions."""
    return typer.Option(
        "--session", "-s", help=help, parser=uuid_parser("session"), metavar="SESSION_ID"
    )


def moment(value: str) -> datetime:
    """An ISO 8601 date or time; without a zone, UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date (2031-03-01T09:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def console() -> Console:
    """stdout for people; piped, wide and unwrapped so that each row stays one line to grep."""
    piped = not sys.stdout.isatty()
    width = PIPED_WIDTH if piped and "COLUMNS" not in os.environ else None
    return Console(soft_wrap=piped, width=width, highlight=False)


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("" if cell is None else str(cell) for cell in row))
    return shown


def details(pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of what something is, leaving out what is empty."""
    shown = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    shown.add_column(style="bold")
    shown.add_column(overflow="fold")
    for name, value in pairs:
        if value not in (None, "", []):
            shown.add_row(name, str(value))
    return shown


def progress_bar(label: str, *extra: ProgressColumn, enabled: bool) -> Progress:
    """A bar per task on stderr (stdout keeps the result), gone when it ends; a no-op unless
    enabled. `label` is the first column's text (it may format the task's description)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    )


def refused(err: BookingError) -> NoReturn:
    """A business rule said no (not found, not cancellable ...): one line, exit code 1."""
    fail(err.detail, FOUND_PROBLEMS)
