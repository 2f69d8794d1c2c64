"""`booking-ops`: the operators' command line. Each command group lives in `ops.commands`.

To add a group: write `ops/commands/<group>.py` with its own `typer.Typer()` and mount it
below with `app.add_typer(<group>.app, name="<group>")`.
"""

import sys
from collections.abc import Sequence
from typing import Any

import click
import typer
from typer.core import TyperGroup

from ops.commands import (
    bookings,
    customers,
    keys,
    organisations,
    reconcile,
    sessions,
    webhooks,
    workflows,
)
from ops.commands.runtime import BAD_USAGE

# Recent Typer raises its own (vendored) copy of click's exceptions; older Typer, click's.
_CLICK_ERRORS = (typer.TyperException, click.ClickException)


class _OneLineErrors(TyperGroup):
    """Bad arguments end with one line on stderr and exit code 2, not a usage panel."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except (*_CLICK_ERRORS, typer.Abort, click.Abort) as err:
            if not standalone_mode:
                raise
            sys.exit(_one_line(err))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _one_line(err: Exception) -> int:
    """Say what went wrong in one line on stderr; the exit code."""
    if isinstance(err, typer.Abort | click.Abort):
        typer.echo("booking-ops: aborted", err=True)
        return 1
    if type(err).__name__ == "NoArgsIsHelpError":  # a bare `booking-ops`: its help, not an error
        typer.echo(str(getattr(err, "format_message", err.__str__)()))
        return 0
    code = int(getattr(err, "exit_code", 1))
    message = str(getattr(err, "format_message", err.__str__)())
    ctx = getattr(err, "ctx", None)
    where = ctx.command_path if ctx is not None else "booking-ops"
    hint = f" (see {where} --help)" if code == BAD_USAGE else ""
    typer.echo(f"{where}: {message}{hint}", err=True)
    return code


app = typer.Typer(
    name="booking-ops",
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help, rewrapped to the terminal
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """Operate the booking engine: check it against Temporal and Stripe, and repair it.

    Settings come from BOOKING_* environment variables (and .env), as for the worker and the
    API. Exit codes: 0 all good, 1 something is off, 2 bad arguments or settings, 3 a service
    could not be reached.
    """


app.add_typer(sessions.app, name="sessions")
app.add_typer(bookings.app, name="bookings")
app.add_typer(keys.keys, name="keys")
app.add_typer(organisations.organisations, name="organisations")
app.add_typer(customers.customers, name="customers")
app.add_typer(webhooks.webhooks, name="webhooks")
app.add_typer(workflows.workflows, name="workflows")
app.command("reconcile", short_help="Check invariants I1 to I5; exit 1 when anything is off.")(
    reconcile.reconcile
)


if __name__ == "__main__":
    app()
