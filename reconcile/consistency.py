"""The consistency checker: invariants I1 to I5, I7 and I8 across PostgreSQL, Temporal and
Stripe.

One implementation for the reliability issue's checker and the operators' `reconcile`. It
reads the database once (`reconcile.snapshot`), Stripe's intents and refunds in pages
(`reconcile.ledger`), and each booking's workflow under a concurrency bound
(`reconcile.workflow_states`), then applies the pure rules of `reconcile.rules`. Bookings
created or changed in the last `settle_seconds` are left alone; a violation is reported only
when a second look `recheck_seconds` later still sees it, so a transition that was being
written is not mistaken for a fault."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from messages.payments import PaymentState
from reconcile import rules
from reconcile.findings import (
    DEFAULT_EMAIL_BOUND,
    DEFAULT_GRACE,
    DEFAULT_SETTLE_SECONDS,
    unclaimed_candidates,
)
from reconcile.ledger import load_ledger
from reconcile.progress import Progress, tell
from reconcile.rules import Invariant, Rule, Violation
from reconcile.snapshot import load_snapshot
from reconcile.waiting_lists import stranded_acceptances
from reconcile.workflow_states import WorkflowReader

__all__ = ["Counts", "Invariant", "Report", "Rule", "Violation", "check"]


@dataclass
class Counts:
    """What was examined."""

    sessions: int = 0
    places_taken: int = 0
    bookings: int = 0
    bookings_unsettled: int = 0  # created or changed within settle_seconds: not judged
    workflows: int = 0
    workflows_running: int = 0
    queries: int = 0
    query_failures: int = 0  # answered by the BookingStatus search attribute instead
    payment_intents: int = 0
    payments_succeeded: int = 0
    refunds: int = 0  # at Stripe
    refunds_recorded: int = 0  # by the bookings
    documents: int = 0
    emails: int = 0


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)

    @property
    def ok(self) -> bool:
        return not self.violations


async def check(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    stripe_client: stripe.StripeClient,
    *,
    session_ids: Sequence[str] | None = None,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    hold_grace: timedelta = DEFAULT_GRACE,
    email_bound: timedelta = DEFAULT_EMAIL_BOUND,
    created_since: datetime | None = None,
    concurrency: int = 20,
    query_workflows: bool = True,
    recheck_seconds: float = 1.0,
    progress: Progress | None = None,
) -> Report:
    """Check I1 to I5, I7 and I8; `session_ids` limits it to those sessions' places, bookings
    and the payments naming them; `created_since` limits the money checks to payments and
    bookings created since then (Stripe lists everything otherwise); an email `sending` for
    longer than `email_bound` is stuck even while its workflow runs."""

    async def look() -> Report:
        return await _look(
            db,
            temporal,
            stripe_client,
            session_ids=session_ids,
            settle=timedelta(seconds=settle_seconds),
            hold_grace=hold_grace,
            email_bound=email_bound,
            created_since=created_since,
            reader=WorkflowReader(temporal, concurrency=concurrency, query=query_workflows),
            progress=progress,
        )

    first = await look()
    if first.ok or recheck_seconds <= 0:
        return first
    await asyncio.sleep(recheck_seconds)
    second = await look()
    seen_first = {(v.rule, v.subject) for v in first.violations}
    second.violations = [v for v in second.violations if (v.rule, v.subject) in seen_first]
    return second


async def _look(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    stripe_client: stripe.StripeClient,
    *,
    session_ids: Sequence[str] | None,
    settle: timedelta,
    hold_grace: timedelta,
    email_bound: timedelta,
    created_since: datetime | None,
    reader: WorkflowReader,
    progress: Progress | None,
) -> Report:
    tell(progress, "database", 0, None)
    snapshot = await load_snapshot(db, session_ids=session_ids)
    async with db() as session:
        stranded = await stranded_acceptances(session, settle=settle, session_ids=session_ids)
    tell(progress, "database", 1, 1)
    since = int(created_since.timestamp()) if created_since else None
    ledger = await load_ledger(stripe_client, db, created_since=since, progress=progress)
    at_rest = [b for b in snapshot.bookings.values() if b.at_rest(snapshot.now, settle)]
    workflows = await reader.read((b.id for b in at_rest), ask_status=True, progress=progress)

    money_bookings = [b for b in at_rest if since is None or b.created_at.timestamp() >= since]
    candidates = unclaimed_candidates(snapshot, ledger, settle=settle, scoped=bool(session_ids))
    violations = [
        *rules.places(snapshot, workflows, settle, hold_grace),
        *rules.offers(snapshot, settle, hold_grace),
        *rules.accepted_without_booking(stranded),
        *rules.money(snapshot, ledger, workflows, candidates, money_bookings, bool(session_ids)),
        *rules.books(snapshot, ledger, money_bookings),
        *rules.documents(snapshot, workflows, at_rest, email_bound),
        *rules.mirror(at_rest, workflows),
    ]
    violations.sort(key=lambda v: (v.invariant.value, v.rule, v.subject))
    scoped_intents = rules.scoped_intents(snapshot, ledger, bool(session_ids))
    counts = Counts(
        sessions=len(snapshot.sessions),
        places_taken=len(snapshot.taken),
        bookings=len(snapshot.bookings),
        bookings_unsettled=len(snapshot.bookings) - len(at_rest),
        workflows=len(workflows),
        workflows_running=sum(w.running for w in workflows.values()),
        queries=reader.queries,
        query_failures=reader.query_failures,
        payment_intents=len(scoped_intents),
        payments_succeeded=sum(i.status == PaymentState.PAID for i in scoped_intents),
        refunds=ledger.refunds,
        refunds_recorded=sum(len(r) for r in snapshot.refunds.values()),
        documents=sum(snapshot.documents.values()),
        emails=sum(e.rows for e in snapshot.emails),
    )
    return Report(violations, counts)
