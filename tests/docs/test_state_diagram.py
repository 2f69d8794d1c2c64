"""The booking's state diagram is written twice, in the workflow's docstring and in
docs/architecture.md: the two are the same, and every status of a booking is in it."""

import re
from pathlib import Path

import workflows.booking
from core.enums import BookingStatus

ROOT = Path(__file__).resolve().parents[2]
MERMAID = re.compile(r"```mermaid\n(.*?)```", re.S)


def test_the_docs_show_the_workflows_diagram() -> None:
    (in_code,) = MERMAID.findall(workflows.booking.__doc__ or "")
    (in_docs,) = MERMAID.findall((ROOT / "docs" / "architecture.md").read_text())
    assert in_docs == in_code


def test_every_status_is_a_state_of_the_diagram() -> None:
    (diagram,) = MERMAID.findall(workflows.booking.__doc__ or "")
    states = set(re.findall(r"\b[A-Z][A-Z_]+\b", diagram))
    assert states == {status.value for status in BookingStatus}
