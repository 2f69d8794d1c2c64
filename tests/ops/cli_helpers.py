"""`booking-ops` in tests: run through Typer's CliRunner in a thread (the command runs its own
event loop while the session's loop keeps the worker and the API going), with the session's
settings as the BOOKING_* environment an operator's shell would give it."""

import asyncio
import json
from typing import Any

from typer.testing import CliRunner, Result

from core.settings import Settings, get_settings
from ops.cli import app
from tests.helpers.environment import environment

__all__ = ["booking_ops", "environment", "ok", "ok_json", "one_line_error"]


async def booking_ops(settings: Settings, *args: str, **env: str) -> Result:
    # No COLUMNS: the command takes it for the reader's terminal and narrows its tables to it,
    # and pytest-xdist's workers have COLUMNS=80 (a piped command prints 200 wide).
    shell: dict[str, str | None] = {**environment(settings), "COLUMNS": None, **env}

    def invoke() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env=shell)
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(invoke)


def ok(result: Result) -> str:
    """The command's stdout, once it exited 0."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def ok_json(result: Result) -> Any:
    return json.loads(ok(result))


def one_line_error(result: Result, code: int, complaint: str) -> None:
    """Exit `code` with one line on stderr that says `complaint`, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert complaint in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
