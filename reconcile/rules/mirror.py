"""I5 (duplicate and out-of-order events are harmless), seen at rest: the database's mirror
tells what the workflow tells."""

from core.enums import OPEN_STATUSES
from reconcile.rules.vocabulary import Rule, Violation, violation
from reconcile.snapshot import BookingRow
from reconcile.workflow_states import WorkflowState


def mirror(bookings: list[BookingRow], workflows: dict[str, WorkflowState]) -> list[Violation]:
    found = []
    for booking in bookings:
        workflow = workflows.get(booking.id)
        if workflow is None:
            continue
        if workflow.running and workflow.booking_status != booking.status:
            told = workflow.booking_status or "nothing yet"
            found.append(
                violation(
                    Rule.MIRROR_DIFFERS,
                    booking.id,
                    f"the database says {booking.status}, the workflow ({workflow.told_by}) "
                    f"says {told}",
                )
            )
        elif not workflow.running and booking.status in OPEN_STATUSES:
            found.append(
                violation(
                    Rule.OPEN_WITHOUT_WORKFLOW,
                    booking.id,
                    f"the database says {booking.status} but its workflow is {workflow.label}",
                )
            )
    return found
