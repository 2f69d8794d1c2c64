"""The Stripe refunds recorder on an intent two bookings claim (a partial move's split, written
by hand): a refund is recorded on the booking its metadata names, one naming none (made in
Stripe's dashboard) on the intent's opener; then the books agree with Stripe."""

from activities.repairs import record_stripe_refunds, stripe_refunds_workflow_id
from messages.repairs import RefundsMade
from reconcile.consistency import Rule
from tests.helpers.consistency import Check, World, settled
from tests.helpers.stack import Stack
from tests.histories import HISTORIES, keep_workflow_history
from tests.reconcile.breaking import found, refund_at_stripe, terminate
from tests.reconcile.splits import a_split, refund_naming, without_workflow
from tests.workflows.test_safety_net import refunds_of
from workflows.stripe_refunds import STRIPE_REASON


async def test_each_refund_of_a_shared_intent_is_recorded_on_its_booking(
    stack: Stack, run_check: Check
) -> None:
    split = await a_split(stack.api, stack.stripe_client, stack.db, stack.new_session)
    await terminate(stack.temporal, split.booking("p"))  # the recorder is for ended workflows
    await refund_naming(stack.stripe_client, split.intent, 500, split.c)
    await refund_at_stripe(stack.stripe_client, split.intent, 300)  # names nobody: P's

    for booking_id in (split.p, split.c):
        await record_stripe_refunds(
            stack.temporal, stack.settings.task_queue, RefundsMade(booking_id)
        )
        recorder = stripe_refunds_workflow_id(booking_id)
        await stack.temporal.get_workflow_handle(recorder).result()
    await keep_workflow_history(
        stack.temporal,
        stripe_refunds_workflow_id(split.c),
        HISTORIES / "stripe-refunds" / "shared_intent_split_booking",
    )

    assert await refunds_of(stack.db, split.c) == [(500, STRIPE_REASON)]
    assert await refunds_of(stack.db, split.p) == [(300, STRIPE_REASON)]
    await settled()
    report = await run_check(World(split.session_ids, {}))
    # Neither runs a workflow now; their money and books are right.
    p_without_workflow = {
        (Rule.ORPHAN_WORKFLOW_CLOSED, split.p),
        (Rule.OPEN_WITHOUT_WORKFLOW, split.p),
    }
    assert found(report) == without_workflow(split) | p_without_workflow
