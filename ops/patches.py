"""Which workflows still predate each live patch (workflows.options.LIVE_PATCHES), from Temporal
visibility, and so which step of the patch rule (workflows/options.py) may be taken next.

A patch's day is the day its release shipped (the deprecation's, once deprecated). Workflows
started on that day may have started before the release: every workflow started before the end
of that day (UTC) counts as predating it. Open ones still run the old branch; closed ones within
the namespace's retention (visibility keeps a closed workflow until its retention ends) may
still be replayed, by a query or a reset.
"""

import asyncio
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.client import Client

from workflows.registry import WORKFLOWS

_PATCH_ID = re.compile(r"^(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*?)-(?P<day>\d{4}-\d{2}-\d{2})$")


def _type_name(cls: type) -> str:
    """The workflow type a class registers as (its @workflow.defn name)."""
    name = workflow._Definition.must_from_class(cls).name  # no public accessor in temporalio
    assert name is not None
    return name


# Every workflow type the worker runs: a patch may be in any of them.
WORKFLOW_TYPES: tuple[str, ...] = tuple(_type_name(cls) for cls in WORKFLOWS)


class PatchStage(StrEnum):
    """Where a live patch is in the rule: `workflow.patched`, then `workflow.deprecate_patch`."""

    PATCHED = "patched"
    DEPRECATED = "deprecated"


class NextStep(StrEnum):
    """What the patch rule allows now."""

    WAIT = "wait: workflows predate it"
    DEPRECATE = "deprecate_patch it"
    DELETE = "delete it"


@dataclass(frozen=True)
class Patch:
    id: str
    stage: PatchStage
    day: date  # the release day that counts: the patch's, or its deprecation's

    @property
    def cutoff(self) -> datetime:
        """Workflows started before this moment predate the patch."""
        return datetime.combine(self.day + timedelta(days=1), time(), UTC)


@dataclass(frozen=True)
class Predating:
    """How many workflows of one type started before a patch's cutoff."""

    workflow_type: str
    open: int
    closed: int  # and still within retention


@dataclass(frozen=True)
class PatchReport:
    patch: Patch
    counts: list[Predating]

    @property
    def open(self) -> int:
        return sum(count.open for count in self.counts)

    @property
    def closed(self) -> int:
        return sum(count.closed for count in self.counts)

    @property
    def next_step(self) -> NextStep:
        if self.open or self.closed:
            return NextStep.WAIT
        return NextStep.DEPRECATE if self.patch.stage == PatchStage.PATCHED else NextStep.DELETE


def live_patches(registry: dict[str, date | None]) -> list[Patch]:
    """The registry's patches, in id order; ValueError names an id that is not
    `<name>-YYYY-MM-DD`, or a deprecation before its patch."""
    patches = []
    for patch_id, deprecated in sorted(registry.items()):
        shipped = patch_day(patch_id)
        if deprecated is not None and deprecated < shipped:
            raise ValueError(f"patch {patch_id!r} is deprecated on {deprecated}, before it shipped")
        if deprecated is None:
            patches.append(Patch(patch_id, PatchStage.PATCHED, shipped))
        else:
            patches.append(Patch(patch_id, PatchStage.DEPRECATED, deprecated))
    return patches


def patch_day(patch_id: str) -> date:
    """The day in a patch id `<name>-YYYY-MM-DD`; ValueError if it is not one."""
    match = _PATCH_ID.match(patch_id)
    if match is not None:
        with suppress(ValueError):  # a day that does not exist: 2027-02-30
            return date.fromisoformat(match["day"])
    raise ValueError(f"patch id {patch_id!r} is not <name>-YYYY-MM-DD")


def predating_query(workflow_type: str, cutoff: datetime, *, running: bool) -> str:
    """The visibility query for workflows of this type started before the cutoff, open or
    closed (to paste into the Temporal UI)."""
    status = "=" if running else "!="
    started = cutoff.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (
        f'WorkflowType = "{workflow_type}" AND ExecutionStatus {status} "Running" '
        f'AND StartTime < "{started}"'
    )


async def report(
    temporal: Client, patches: list[Patch], workflow_types: tuple[str, ...] = WORKFLOW_TYPES
) -> list[PatchReport]:
    """Each patch with its predating workflows, by type (the counts asked all at once)."""
    return list(
        await asyncio.gather(*(_patch_report(temporal, patch, workflow_types) for patch in patches))
    )


async def _patch_report(
    temporal: Client, patch: Patch, workflow_types: tuple[str, ...]
) -> PatchReport:
    counts = await asyncio.gather(*(_predating(temporal, patch, t) for t in workflow_types))
    return PatchReport(patch, list(counts))


async def _predating(temporal: Client, patch: Patch, workflow_type: str) -> Predating:
    running, closed = await asyncio.gather(
        temporal.count_workflows(predating_query(workflow_type, patch.cutoff, running=True)),
        temporal.count_workflows(predating_query(workflow_type, patch.cutoff, running=False)),
    )
    return Predating(workflow_type, running.count, closed.count)
