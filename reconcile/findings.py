"""Findings that a repair can act on: places nobody will release, money nobody will claim.

Each finder is a pure function over what was read (`find_*`) and an async wrapper that reads
only what it needs (`orphan_holds`, `unclaimed_payments`); `reconcile.consistency.check` reuses the
pure ones, and the safety net can reuse the async ones.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from core.enums import OPEN_STATUSES, BookingStatus, SeatState
from reconcile.ledger import Intent, Ledger, load_ledger
from reconcile.progress import Progress
from reconcile.snapshot import CLAIMING, Claim, Snapshot, load_snapshot
from reconcile.workflow_states import WorkflowReader, WorkflowState

DEFAULT_GRACE = timedelta(minutes=2)
DEFAULT_SETTLE_SECONDS = 5.0
# An email still `sending` this long after its first attempt is stuck, whatever its workflow
# does: longer than the email step's whole retry bound (workflows/options.py EMAIL_STEP).
DEFAULT_EMAIL_BOUND = timedelta(minutes=30)


class OrphanReason(StrEnum):
    WORKFLOW_CLOSED = "workflow-closed"  # its workflow ended (or never existed)
    BOOKING_CLOSED = "booking-closed"  # the mirror says it ended (expired, cancelled, ...)
    HOLD_OVERDUE = "hold-overdue"  # still pending, long past hold_expires_at + grace


@dataclass(frozen=True)
class OrphanHold:
    """Places held or sold by a booking that will never release them by itself."""

    booking_id: str
    session_id: str
    status: BookingStatus  # in the database
    reason: OrphanReason
    workflow_status: WorkflowExecutionStatus | None  # None: no such workflow
    held: tuple[str, ...]  # seat labels
    sold: tuple[str, ...]
    hold_expires_at: datetime

    @property
    def workflow_open(self) -> bool:
        return self.workflow_status == WorkflowExecutionStatus.RUNNING


@dataclass(frozen=True)
class UnclaimedPayment:
    """Succeeded money that no confirmed booking holds, not refunded, and no live workflow
    will claim or refund."""

    payment_intent_id: str
    booking_id: str | None  # metadata.booking_id as Stripe has it
    booking_status: BookingStatus | None  # None: no such booking in the database
    amount: int  # received
    refunded: int
    currency: str
    workflow_status: WorkflowExecutionStatus | None
    account: str | None = None  # the connected account it is in; None: the platform's
    # What no booking holds of it (less than amount - refunded when a booking that was
    # confirmed claims part of it: a split's other half keeps its part).
    unclaimed: int = 0


async def orphan_holds(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    *,
    grace: timedelta = DEFAULT_GRACE,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    session_ids: Sequence[str] | None = None,
    concurrency: int = 20,
    progress: Progress | None = None,
) -> list[OrphanHold]:
    """Places held or sold by a booking whose workflow is closed, whose status is no longer
    open, or that is still pending `grace` past its hold's end."""
    snapshot = await load_snapshot(db, session_ids=session_ids, place_holders_only=True)
    holders = {seat.booking_id for seat in snapshot.taken}
    workflows = await WorkflowReader(temporal, concurrency=concurrency).read(
        holders, ask_status=False, progress=progress
    )
    return find_orphan_holds(snapshot, workflows, grace=grace, settle=_seconds(settle_seconds))


async def unclaimed_payments(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    stripe_client: stripe.StripeClient,
    *,
    session_ids: Sequence[str] | None = None,
    created_since: datetime | None = None,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    concurrency: int = 20,
    progress: Progress | None = None,
) -> list[UnclaimedPayment]:
    """Succeeded PaymentIntents (created since `created_since`) that no CONFIRMED or COMPLETED
    booking claims, with money no booking holds (what a cancelled one keeps is its refund
    policy's), and whose booking's workflow is not running (a running one confirms or refunds
    its own intent). With `session_ids`, only intents that name a booking of those sessions."""
    since = int(created_since.timestamp()) if created_since else None
    ledger = await load_ledger(stripe_client, db, created_since=since, progress=progress)
    snapshot = await load_snapshot(db, session_ids=session_ids)
    settle = _seconds(settle_seconds)
    candidates = unclaimed_candidates(snapshot, ledger, settle=settle, scoped=bool(session_ids))
    owners = {i.booking_id for i in candidates if i.booking_id in snapshot.bookings}
    workflows = await WorkflowReader(temporal, concurrency=concurrency).read(
        (b for b in owners if b), ask_status=False, progress=progress
    )
    return find_unclaimed_payments(snapshot, ledger, workflows, candidates)


def find_orphan_holds(
    snapshot: Snapshot,
    workflows: dict[str, WorkflowState],
    *,
    grace: timedelta,
    settle: timedelta,
) -> list[OrphanHold]:
    found = []
    for booking_id in sorted({seat.booking_id for seat in snapshot.taken}):
        booking = snapshot.bookings.get(booking_id)
        workflow = workflows.get(booking_id)
        if booking is None or workflow is None or not booking.at_rest(snapshot.now, settle):
            continue  # out of scope, or a transition may be on its way
        seats = snapshot.places_of(booking_id)
        held = tuple(sorted(s.label for s in seats if s.state == SeatState.HELD))
        sold = tuple(sorted(s.label for s in seats if s.state == SeatState.SOLD))
        overdue = booking.hold_expires_at + grace < snapshot.now
        reason = _orphan_reason(booking.status, held, workflow, overdue)
        if reason is None:
            continue
        found.append(
            OrphanHold(
                booking_id,
                booking.session_id,
                BookingStatus(booking.status),
                reason,
                workflow.status,
                held,
                sold,
                booking.hold_expires_at,
            )
        )
    return found


def _orphan_reason(
    status: str, held: tuple[str, ...], workflow: WorkflowState, overdue: bool
) -> OrphanReason | None:
    if status == BookingStatus.COMPLETED and not held:
        return None  # the session is over: its places stay sold
    if not workflow.running:
        return OrphanReason.WORKFLOW_CLOSED
    if status not in OPEN_STATUSES:
        return OrphanReason.BOOKING_CLOSED
    if status == BookingStatus.PENDING_PAYMENT and held and overdue:
        return OrphanReason.HOLD_OVERDUE
    return None


def unclaimed_candidates(
    snapshot: Snapshot, ledger: Ledger, *, settle: timedelta, scoped: bool
) -> list[Intent]:
    """Succeeded intents at rest that no claiming booking claims, holding money no booking
    holds (`unclaimed_part`)."""
    found = []
    settled_before = int((snapshot.now - settle).timestamp())
    for intent in ledger.paid():
        booking = snapshot.bookings.get(intent.booking_id or "")
        if booking is None and (scoped or intent.created > settled_before):
            continue  # another scope's, or too fresh to judge
        if booking is not None and not booking.at_rest(snapshot.now, settle):
            continue
        claims = snapshot.claims_on(intent.id)
        if any(claim.changed_at > snapshot.now - settle for claim in claims):
            continue  # a booking claiming it is changing
        if any(claim.status in CLAIMING for claim in claims):
            continue  # claimed while any booking claiming it is confirmed
        if unclaimed_part(intent, claims, ledger) > 0:
            found.append(intent)
    return found


def unclaimed_part(intent: Intent, claims: list[Claim], ledger: Ledger) -> int:
    """What of the intent's money no booking holds: what Stripe received less its refunds and
    less what each booking holding a claim on it keeps (its claim less its own refunds on it:
    a booking confirmed once keeps what its refund policy did not give back). A refund of late
    money gave back what no booking held, whichever booking it names. A booking holding the only
    claim on it keeps all of it, as before intents were shared (migration 0022 wrote the claims
    of older bookings from their price then, less than they paid if places were given back)."""
    if len(claims) == 1 and claims[0].holds:
        return 0
    kept = 0
    for claim in claims:
        if claim.holds:
            refunds = ledger.refunds_for(intent.id, claim.booking_id)
            given_back = sum(a for r, a in refunds.items() if r not in ledger.late_refunds)
            kept += max(claim.amount - given_back, 0)
    return _paid(intent) - ledger.refunded.get(intent.id, 0) - kept


def find_unclaimed_payments(
    snapshot: Snapshot,
    ledger: Ledger,
    workflows: dict[str, WorkflowState],
    candidates: list[Intent],
) -> list[UnclaimedPayment]:
    """The candidates whose booking's workflow will not claim or refund them: it is closed,
    or the intent is not the one the booking waits for."""
    found = []
    for intent in candidates:
        booking = snapshot.bookings.get(intent.booking_id or "")
        workflow = workflows.get(booking.id) if booking else None
        its_own = booking is not None and (
            booking.payment_intent_id in (None, intent.id) or intent.id in booking.move_intents
        )
        if workflow is not None and workflow.running and its_own:
            continue
        found.append(
            UnclaimedPayment(
                intent.id,
                intent.booking_id,
                BookingStatus(booking.status) if booking else None,
                _paid(intent),
                ledger.refunded.get(intent.id, 0),
                intent.currency,
                workflow.status if workflow else None,
                intent.account,
                unclaimed_part(intent, snapshot.claims_on(intent.id), ledger),
            )
        )
    return found


def _paid(intent: Intent) -> int:
    return intent.amount_received or intent.amount


def _seconds(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
