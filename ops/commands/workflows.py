"""`booking-ops workflows`: what Temporal holds of the workflows as a whole; today, which open
workflows still predate each live patch (the patch rule is at the top of workflows/options.py)."""

from typing import Annotated, Any

import typer

from ops import patches
from ops.commands.display import AsJson, console, print_json, table
from ops.commands.runtime import BAD_USAGE, fail, run, settings_or_exit, temporal_client
from ops.readable import when
from workflows import options

workflows = typer.Typer(
    help="Workflows as a whole: which still predate each live patch.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _workflow_type(value: str) -> str:
    if value not in patches.WORKFLOW_TYPES:
        known = ", ".join(patches.WORKFLOW_TYPES)
        raise typer.BadParameter(f"{value!r} is not a workflow type ({known})")
    return value


@workflows.command("patches")
def patches_command(
    workflow_type: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            parser=_workflow_type,
            metavar="WORKFLOW_TYPE",
            help="Count only workflows of this type (repeatable). Default: every type.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """How many workflows still predate each live patch (workflows/options.py LIVE_PATCHES).

    Counts, from Temporal visibility, the workflows of each type started before the end of the
    patch's release day (the deprecation's, once deprecated): open ones still run the old
    branch; closed ones are still within the namespace's retention. When both are 0, the patch
    may become workflow.deprecate_patch (or, deprecated, be deleted). Visibility trails the
    workflows by a second or so.
    """
    try:
        live = patches.live_patches(options.LIVE_PATCHES)
    except ValueError as err:
        fail(f"workflows/options.py LIVE_PATCHES: {err}", BAD_USAGE)
    if not live:
        if as_json:
            print_json({"patches": []})
        else:
            console().print("no live patch: every workflow runs the release baseline")
        return
    settings = settings_or_exit()
    types = tuple(dict.fromkeys(workflow_type)) if workflow_type else patches.WORKFLOW_TYPES

    async def work() -> list[patches.PatchReport]:
        return await patches.report(await temporal_client(settings), live, types)

    reports = run(work())
    if as_json:
        print_json({"patches": [_as_json(found) for found in reports]})
        return
    rows = [
        (
            found.patch.id,
            found.patch.stage,
            when(found.patch.cutoff),
            count.workflow_type,
            count.open,
            count.closed,
        )
        for found in reports
        for count in found.counts
    ]
    columns = ("patch", "stage", "started before (UTC)", "workflow type", "open", "closed")
    out = console()
    out.print(table(f"{len(reports)} live patch(es)", columns, rows))
    for found in reports:
        out.print(f"{found.patch.id}: {found.next_step}")


def _as_json(found: patches.PatchReport) -> dict[str, Any]:
    return {
        "id": found.patch.id,
        "stage": found.patch.stage,
        "started_before": found.patch.cutoff.isoformat(),
        "open": found.open,
        "closed": found.closed,
        "next_step": found.next_step.name.lower(),
        "workflows": {
            count.workflow_type: {"open": count.open, "closed": count.closed}
            for count in found.counts
        },
    }
