"""Every step of every workflow is bounded, or says in writing why not.

Lists every activity call of workflows/*.py (read from their source) with the options it
passes, and every StepOptions of workflows/options.py. A retry policy bounds a step by
`maximum_attempts`, or (regular activities only: local ones ignore it when retrying) by a
`schedule_to_close_timeout`; an unbounded one needs its reason in `UNBOUNDED_REASONS`. Each
option in use is also in docs/reliability.md's "Bounds" table, with what happens at its bound.
"""

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import pytest

from messages.repairs import SafetyNetInput
from messages.webhooks import RetryTimings
from workflows import options
from workflows.options import StepOptions

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = sorted((ROOT / "workflows").glob("*.py"))
ACTIVITY_CALL = re.compile(r"^(execute|start)_(local_)?activity(_method|_class)?$")
OPTION_KEYS = set(StepOptions.__annotations__)

# How to call the functions that make options of something else than options, as their worst
# case: a webhook delivery's window is the settings' default, a safety-net search's timeout the
# input's default. (`_bounded(options, None)` returns `options` unbounded.)
EXAMPLE_ARGUMENTS: dict[str, Any] = {
    "send_step": lambda: (RetryTimings(1, 3600, 3 * 24 * 3600, 10),),
    "_search": lambda: (SafetyNetInput(hold_grace_seconds=600, payment_window_seconds=3600),),
}


@dataclass(frozen=True)
class Use:
    """One activity call and the options it passes."""

    where: str  # file:line
    local: bool
    label: str  # the options' name, or the call that made them
    options: StepOptions


def _is_step_options(value: object) -> TypeGuard[StepOptions]:
    return isinstance(value, dict) and bool(value) and set(value) <= OPTION_KEYS


def _name_of(value: object) -> str | None:
    """The module-level name of these very options, in options.py or a workflow module."""
    for module in [options, *map(_module, WORKFLOW_FILES)]:
        for name, candidate in vars(module).items():
            if candidate is value and name.isupper():
                return name
    return None


def _module(path: Path) -> Any:
    return importlib.import_module(f"workflows.{path.stem}")


class _Resolver:
    """The options an expression of one workflow module stands for (each, when a function's
    parameter takes them from several callers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.module = _module(path)
        self.tree = ast.parse(path.read_text())
        self.functions = [
            node
            for node in ast.walk(self.tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]

    def resolve(self, node: ast.expr, within: ast.AST | None) -> list[tuple[str, StepOptions]]:
        if isinstance(node, ast.Name):
            value = getattr(self.module, node.id, None)
            if _is_step_options(value):
                return [(node.id, value)]
            return self._from_callers(node.id, within)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._made_by(node, within)
        raise AssertionError(f"{self.path.name}:{node.lineno}: options this test cannot read")

    def _made_by(self, call: ast.Call, within: ast.AST | None) -> list[tuple[str, StepOptions]]:
        assert isinstance(call.func, ast.Name)
        function = getattr(self.module, call.func.id)
        if call.func.id in EXAMPLE_ARGUMENTS:
            made = function(*EXAMPLE_ARGUMENTS[call.func.id]())
            return [(f"{call.func.id}(...)", made)]
        # A function of the options it is given: its worst case, given None for the rest.
        found = []
        for label, given in self.resolve(call.args[0], within):
            made = function(given, *[None] * (len(call.args) - 1))
            found.append((_name_of(made) or f"{call.func.id}({label})", made))
        return found

    def _from_callers(self, name: str, within: ast.AST | None) -> list[tuple[str, StepOptions]]:
        """`name` is a parameter of the function around the call: what its callers pass."""
        function = next(f for f in self.functions if within is not None and _encloses(f, within))
        parameters = [a.arg for a in function.args.args if a.arg != "self"]
        assert name in parameters, f"{self.path.name}: {name} is no options this test can read"
        index = parameters.index(name)
        found = []
        for call in ast.walk(self.tree):
            if not (isinstance(call, ast.Call) and _called_name(call) == function.name):
                continue
            given = {k.arg: k.value for k in call.keywords if k.arg}
            argument = call.args[index] if index < len(call.args) else given[name]
            found += self.resolve(argument, call)
        assert found, f"{self.path.name}: nobody calls {function.name}"
        return found


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def _encloses(function: ast.AST, node: ast.AST) -> bool:
    return any(child is node for child in ast.walk(function))


def _activity_calls(path: Path) -> list[Use]:
    resolver = _Resolver(path)
    uses = []
    for call in ast.walk(resolver.tree):
        name = _called_name(call) if isinstance(call, ast.Call) else None
        if name is None or not ACTIVITY_CALL.match(name):
            continue
        assert isinstance(call, ast.Call)
        where = f"{path.name}:{call.lineno}"
        spelled = [k.arg for k in call.keywords if k.arg in OPTION_KEYS]
        assert not spelled, f"{where}: name its options in workflows/options.py, not {spelled}"
        passed = [k.value for k in call.keywords if k.arg is None]
        assert len(passed) == 1, f"{where}: an activity call passes its options as **OPTIONS"
        for label, step_options in resolver.resolve(passed[0], call):
            uses.append(Use(where, "local" in name, label, step_options))
    return uses


def all_uses() -> list[Use]:
    return [use for path in WORKFLOW_FILES for use in _activity_calls(path)]


def unbounded_why(step_options: StepOptions, *, local: bool) -> str | None:
    """Why these options let a step retry without end; None when they do not."""
    policy = step_options.get("retry_policy")
    if policy is not None and policy.maximum_attempts > 0:
        return None
    if step_options.get("schedule_to_close_timeout") and not local:
        return None
    if local and step_options.get("schedule_to_close_timeout"):
        return "a local activity's retries ignore schedule_to_close: give maximum_attempts"
    return "neither maximum_attempts nor schedule_to_close_timeout"


def test_the_scan_finds_every_activity_call_of_every_workflow() -> None:
    """Each `execute_*activity*` / `start_*activity*` in the source is one call read here."""
    spelled = sum(
        len(re.findall(r"\.(?:execute|start)_(?:local_)?activity\w*\(", path.read_text()))
        for path in WORKFLOW_FILES
    )
    read = {use.where for use in all_uses()}
    assert len(read) == spelled
    assert spelled >= 20  # the booking, the safety net, session cancellation, webhooks out


@pytest.mark.parametrize("use", all_uses(), ids=lambda use: f"{use.where}-{use.label}")
def test_every_activity_call_is_bounded_or_says_why_not(use: Use) -> None:
    why = unbounded_why(use.options, local=use.local)
    if why is not None:
        reason = options.UNBOUNDED_REASONS.get(use.label, "")
        assert len(reason) > 40, f"{use.where} passes {use.label}, unbounded: {why}"


@pytest.mark.parametrize(
    "name", [n for n, v in vars(options).items() if _is_step_options(v)], ids=str
)
def test_every_step_option_is_bounded_or_says_why_not(name: str) -> None:
    """Also the options no workflow uses yet; local or not, attempts bound a step the same."""
    step_options: StepOptions = getattr(options, name)
    assert step_options.get("start_to_close_timeout") or step_options.get(
        "schedule_to_close_timeout"
    )
    why = unbounded_why(step_options, local=True)
    reason = options.UNBOUNDED_REASONS.get(name)
    if why is None:
        assert reason is None, f"{name} is bounded: drop its reason"
    else:
        assert reason and len(reason) > 40, f"{name} is unbounded ({why}) with no reason"


def test_every_reason_names_options_in_use() -> None:
    labels = {use.label for use in all_uses()}
    assert set(options.UNBOUNDED_REASONS) <= labels


def test_every_option_in_use_has_its_row_in_the_bounds_table() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    section = text.split("## Bounds", 1)[1].split("\n## ", 1)[0]
    missing = {use.label for use in all_uses() if f"`{use.label.split('(')[0]}" not in section}
    assert not missing, f"docs/reliability.md's Bounds table lacks {sorted(missing)}"
