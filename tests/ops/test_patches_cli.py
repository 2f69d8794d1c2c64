"""`booking-ops workflows patches`: the registry of live patches agrees with the workflow modules'
source, and the command counts, from visibility, the workflows started before each patch's day."""

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from ops.patches import WORKFLOW_TYPES, live_patches
from tests.helpers.api_bookings import start_booking, wait_for_status
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error
from tests.waiting_list import helpers as wl
from workflows import options

WORKFLOWS = Path(options.__file__).parent
PATCH_CALLS = {"patched", "deprecate_patch"}


def patch_ids_in(source: str, constants: dict[str, Any]) -> set[str]:
    """The ids named by `workflow.patched(...)` and `workflow.deprecate_patch(...)` calls: a
    string, or a constant of workflows.options."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in PATCH_CALLS
        ):
            continue
        [argument] = node.args
        if isinstance(argument, ast.Constant):
            assert isinstance(argument.value, str), ast.dump(argument)
            found.add(argument.value)
        else:
            assert isinstance(argument, ast.Name | ast.Attribute), ast.dump(argument)
            name = argument.id if isinstance(argument, ast.Name) else argument.attr
            found.add(constants[name])
    return found


def test_the_registry_lists_every_patch_of_the_workflow_modules() -> None:
    in_source = set()
    for module in sorted(WORKFLOWS.glob("*.py")):
        in_source |= patch_ids_in(module.read_text(), vars(options))
    assert in_source == set(options.LIVE_PATCHES)
    assert len(live_patches(options.LIVE_PATCHES)) == len(options.LIVE_PATCHES)


def test_every_workflow_type_of_the_workflow_modules_is_counted() -> None:
    """A patch may be in any workflow: each one defined in workflows/ is counted."""
    defined = set()
    for module in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "workflow.defn" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                defined.add(node.name)
    assert set(WORKFLOW_TYPES) == defined


def test_patch_calls_are_found_by_string_and_by_constant() -> None:
    source = (
        "if workflow.patched('seat-map-2027-01-15'):\n    pass\n"
        "workflow.deprecate_patch(options.OLD_PATCH)\n"
        "workflow.deprecate_patch(NEWER)\n"
    )
    constants = {"OLD_PATCH": "sweep-2026-12-01", "NEWER": "refunds-2027-02-01"}
    assert patch_ids_in(source, constants) == {
        "seat-map-2027-01-15",
        "sweep-2026-12-01",
        "refunds-2027-02-01",
    }


def test_a_patch_id_is_a_name_and_a_day() -> None:
    [patched, deprecated] = live_patches(
        {"seat-map-2027-01-15": None, "sweep-2026-12-01": date(2027, 1, 10)}
    )
    assert (patched.id, patched.stage, patched.day) == (
        "seat-map-2027-01-15",
        "patched",
        date(2027, 1, 15),
    )
    assert patched.cutoff == datetime(2027, 1, 16, tzinfo=UTC)
    assert (deprecated.stage, deprecated.day) == ("deprecated", date(2027, 1, 10))
    for bad in ("seat-map", "2027-01-15", "seat-map-2027-02-30", "Seat_Map-2027-01-15"):
        with pytest.raises(ValueError, match="is not <name>-YYYY-MM-DD"):
            live_patches({bad: None})
    with pytest.raises(ValueError, match="before it shipped"):
        live_patches({"sweep-2026-12-01": date(2026, 11, 30)})


async def test_no_live_patch_is_said_and_exits_0(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(options, "LIVE_PATCHES", {})
    said = ok(await booking_ops(settings, "workflows", "patches"))
    assert said.strip() == "no live patch: every workflow runs the release baseline"
    assert ok_json(await booking_ops(settings, "workflows", "patches", "--json")) == {"patches": []}


async def counted(settings: Settings, enough: Any, *args: str, within: float = 20) -> Any:
    """`workflows patches --json` once `enough(document)` (visibility trails by a moment)."""

    async def patches() -> Any:
        return ok_json(await booking_ops(settings, "workflows", "patches", "--json", *args))

    return await eventually(patches, enough, within=within, every=0.3, what="the patch counts")


async def test_open_workflows_started_before_a_patch_day_predate_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = datetime.now(UTC).date()
    future, past = f"future-{today + timedelta(days=2)}", f"past-{today - timedelta(days=2)}"
    deprecated = f"deprecated-{today - timedelta(days=30)}"
    registry: dict[str, date | None] = {future: None, past: None, deprecated: today}
    monkeypatch.setattr(options, "LIVE_PATCHES", registry)
    session_id = await stack.new_session(capacity=4)
    open_ones = [await start_booking(stack.api, session_id, 1) for _ in range(2)]
    ended = await start_booking(stack.api, session_id, 1)
    assert (await stack.api.post(f"/v1/bookings/{ended['id']}/cancel")).status_code == 200
    await wait_for_status(stack.api, ended["id"], "CANCELLED")
    full = await stack.new_session(capacity=1)
    await start_booking(stack.api, full, 1)
    await wl.join(stack.api, full, 1, "ada")  # its list's workflow waits for places

    def counts(document: Any, patch_id: str, workflow_type: str) -> dict[str, int]:
        [found] = [p for p in document["patches"] if p["id"] == patch_id]
        return found["workflows"][workflow_type]  # type: ignore[no-any-return]

    def bookings(document: Any, patch_id: str) -> dict[str, int]:
        return counts(document, patch_id, "BookingWorkflow")

    def enough(document: Any) -> bool:
        seen = bookings(document, future)
        lists = counts(document, future, "WaitingListWorkflow")
        return seen["open"] >= len(open_ones) and seen["closed"] >= 1 and lists["open"] >= 1

    document = await counted(stack.settings, enough)
    assert enough(document), document
    by_id = {p["id"]: p for p in document["patches"]}
    assert list(by_id) == sorted(registry)
    assert by_id[future]["stage"] == "patched" and by_id[future]["next_step"] == "wait"
    assert by_id[future]["started_before"] == f"{today + timedelta(days=3)}T00:00:00+00:00"
    # Deprecated today: counted from the deprecation's day, not the patch's.
    assert by_id[deprecated]["stage"] == "deprecated"
    assert bookings(document, deprecated)["open"] >= len(open_ones)
    # Every workflow of this test session started after the past patch's day.
    assert (by_id[past]["open"], by_id[past]["closed"], by_id[past]["next_step"]) == (
        0,
        0,
        "deprecate",
    )
    assert set(by_id[past]["workflows"]) == {
        "BookingWorkflow",
        "CertificateWorkflow",
        "SafetyNetWorkflow",
        "SessionCancellationWorkflow",
        "SessionChangeWorkflow",
        "StripeRefundsWorkflow",
        "WaitingListWorkflow",
        "WebhookDeliveryWorkflow",
    }

    only = ok_json(
        await booking_ops(
            stack.settings, "workflows", "patches", "--json", "--type", "BookingWorkflow"
        )
    )
    assert {tuple(p["workflows"]) for p in only["patches"]} == {("BookingWorkflow",)}

    shown = ok(await booking_ops(stack.settings, "workflows", "patches"))
    assert "3 live patch(es)" in shown
    assert f"{future}: wait: workflows predate it" in shown
    assert f"{past}: deprecate_patch it" in shown


async def test_bad_input_is_one_line_and_exit_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_type = await booking_ops(settings, "workflows", "patches", "--type", "OrderWorkflow")
    one_line_error(bad_type, 2, "'OrderWorkflow' is not a workflow type")
    monkeypatch.setattr(options, "LIVE_PATCHES", {"undated-patch": None})
    bad_id = await booking_ops(settings, "workflows", "patches")
    one_line_error(bad_id, 2, "'undated-patch' is not <name>-YYYY-MM-DD")
