"""One PaymentIntent claimed by two bookings (a partial move's split, migration 0023), against
the real servers: reconcile finds nothing wrong with a split whose claims add up and whose
refunds are each the booking's they name, and finds each way of getting that wrong."""

from datetime import timedelta

import httpx
import pytest
import stripe

from reconcile.consistency import Rule
from tests.conftest import SessionFactory
from tests.helpers.consistency import Check, World, settled
from tests.reconcile.breaking import found, record_refund_by_hand, refund_at_stripe
from tests.reconcile.splits import (
    BREAKS,
    Break,
    Db,
    Split,
    a_split,
    refund_naming,
    without_workflow,
)


async def check(run_check: Check, split: Split) -> set[tuple[Rule, str]]:
    await settled()
    report = await run_check(World(split.session_ids, {}), email_bound=timedelta(minutes=30))
    assert all(v.invariant == v.rule.invariant for v in report.violations)
    return found(report) - without_workflow(split)


async def test_a_split_whose_claims_add_up_is_consistent(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: Db,
    new_session: SessionFactory,
    run_check: Check,
) -> None:
    """C refunded in part (the refund names it, recorded on C), and a refund made in Stripe's
    dashboard (naming nobody: P's, the intent's opener) recorded on P."""
    split = await a_split(api, stripe_client, db, new_session)
    for_c = await refund_naming(stripe_client, split.intent, 500, split.c)
    await record_refund_by_hand(db, split.c, for_c, 500)
    dashboard = await refund_at_stripe(stripe_client, split.intent, 300)
    await record_refund_by_hand(db, split.p, dashboard, 300)

    assert await check(run_check, split) == set()


@pytest.mark.parametrize("breaks", BREAKS, ids=[b.__name__ for b in BREAKS])
async def test_a_split_broken_on_purpose_is_found_exactly(
    breaks: Break,
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: Db,
    new_session: SessionFactory,
    run_check: Check,
) -> None:
    split = await a_split(api, stripe_client, db, new_session)
    expected = await breaks(db, stripe_client, split)

    assert await check(run_check, split) == expected
