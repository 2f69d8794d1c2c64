"""`booking-ops reconcile` end to end: exit 0 when all holds, 1 with the violations listed,
2 on bad arguments, 3 when a service cannot be reached; one line, never a traceback."""

import asyncio
import json
import socket
import sys
from pathlib import Path

from sqlalchemy import text
from typer.testing import Result

from core.settings import Settings
from tests.helpers.consistency import World, at_rest, confirmed
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, environment

BOOKING_OPS = Path(sys.executable).parent / "booking-ops"


async def reconcile(settings: Settings, *args: str) -> Result:
    return await booking_ops(settings, "reconcile", *args)


async def console_script(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The installed console script in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        str(BOOKING_OPS),
        *args,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_reconcile_exits_0_when_all_holds_and_1_with_the_violations(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=4)
    booking = await confirmed(stack.api, stack.stripe_client, session_id, 2)
    await at_rest(stack.db, World([session_id], {"confirmed": booking}))
    scope = ["--session", session_id, "--settle-seconds", "1", "--recheck-seconds", "0"]

    clean = await reconcile(stack.settings, *scope)
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.startswith("no violations (1 sessions, 2 places taken, 1 bookings")

    # localstripe refuses Stripe's `created` filter: the window is applied after listing.
    as_json = await reconcile(stack.settings, *scope, "--json", "--since", "1h")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert (document["ok"], document["violations"]) == (True, [])
    counts = document["counts"]
    assert (counts["bookings"], counts["payment_intents"], counts["payments_succeeded"]) == (
        1,
        1,
        1,
    )

    async with stack.db.begin() as session:
        await session.execute(
            text("DELETE FROM receipts WHERE booking_id = :id"), {"id": booking["id"]}
        )

    table = await reconcile(stack.settings, *scope)
    assert table.exit_code == 1, table.output
    assert "1 violation(s)" in table.stdout
    assert "receipt-count" in table.stdout

    broken = await reconcile(stack.settings, *scope, "--json")
    assert broken.exit_code == 1, broken.output
    [violation] = json.loads(broken.stdout)["violations"]
    assert violation == {
        "invariant": "I4",
        "meaning": "one receipt, one email per kind",
        "rule": "receipt-count",
        "subject": booking["id"],
        "detail": "is CONFIRMED with 0 receipts",
    }


async def test_bad_arguments_exit_2_with_one_line(settings: Settings) -> None:
    env = environment(settings)
    for args, complaint in [
        (["reconcile", "--bogus"], "No such option: --bogus"),
        (["reconcile", "--session", "not-a-uuid"], "not a session id"),
        (["reconcile", "--since", "yesterday-ish"], "give a duration"),
        (["reconcile", "--concurrency", "0"], "--concurrency"),
        (["nonsense"], "No such command"),
    ]:
        code, out, err = await console_script(env, *args)
        assert code == 2, (args, out, err)
        assert complaint in err
        assert len(err.strip().splitlines()) == 1, err
        assert out == ""


async def test_help_everywhere(settings: Settings) -> None:
    code, out, _ = await console_script(environment(settings), "--help")
    assert code == 0 and "reconcile" in out
    code, out, _ = await console_script(environment(settings), "reconcile", "--help")
    assert code == 0 and "--json" in out and "--session" in out


async def test_unreachable_services_exit_3_with_one_line(settings: Settings) -> None:
    env = environment(settings)
    no_database = {
        **env,
        "BOOKING_DATABASE_URL": f"postgresql+asyncpg://u:secret@127.0.0.1:{closed_port()}/x",
    }
    no_temporal = {**env, "BOOKING_TEMPORAL_ADDRESS": f"127.0.0.1:{closed_port()}"}
    no_stripe = {**env, "BOOKING_STRIPE_API_BASE": f"http://127.0.0.1:{closed_port()}"}
    for broken, service in [
        (no_database, "PostgreSQL"),
        (no_temporal, "Temporal"),
        (no_stripe, "Stripe"),
    ]:
        code, out, err = await console_script(broken, "reconcile")
        assert code == 3, (service, out, err)
        assert err.startswith(f"booking-ops: cannot reach {service} at "), err
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and "secret" not in err


async def test_bad_settings_exit_2(settings: Settings) -> None:
    code, _, err = await console_script(
        {**environment(settings), "BOOKING_ENV": "staging"}, "reconcile"
    )
    assert code == 2
    assert err.startswith("booking-ops: bad settings: BOOKING_ENV")
