"""The safety net puts right what a dead booking workflow leaves (issue 9, case 3): an operator
terminates a pending booking; its places come back; the customer pays anyway; it is refunded,
and the refund is recorded on the booking. It never frees places a slow workflow sold after the
search (issue 17, case 7), never refunds money that names no booking of ours (case 11), and a
run is bounded (case 12)."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleIntervalSpec
from temporalio.client import ScheduleOverlapPolicy as Overlap

from activities.payments import make_stripe_client
from activities.repairs import RepairActivities, stripe_refunds_workflow_id
from core.enums import BookingStatus, NotificationStatus, SeatState
from core.settings import Settings
from devstack.pay import pay
from messages.booking import CANCEL_UPDATE_ID, CancelRequest, booking_workflow_id
from messages.repairs import OrphanHold, SafetyNetInput
from models.tables import Booking, BookingRefund, Notification, Seat
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.helpers.emails import emails_for, emails_with
from tests.helpers.polling import eventually
from tests.helpers.stack import Stack
from tests.helpers.stripe_events import signed_event
from tests.helpers.workflow_bookings import book, run_safety_net
from tests.workflows.conftest import OwnWorker
from worker import ensure_safety_net
from workflows.booking import BookingWorkflow
from workflows.safety_net import RUN_TIMEOUT, SAFETY_NET_ID
from workflows.stripe_refunds import SAFETY_NET_REASON

Db = async_sessionmaker[AsyncSession]
HISTORIES = Path(__file__).parent / "histories" / "safety-net"


async def refunds_of(db: Db, booking_id: str, within: float = 15) -> list[tuple[int, str]]:
    """(amount, reason) of the booking's recorded refunds, once there is one."""

    async def recorded() -> list[tuple[int, str]]:
        async with db() as s:
            found = await s.execute(
                select(BookingRefund.amount, BookingRefund.reason)
                .where(BookingRefund.booking_id == uuid.UUID(booking_id))
                .order_by(BookingRefund.sequence)
            )
            return [(amount, reason) for amount, reason in found.all()]

    return await eventually(recorded, within=within, every=0.2, what="a refund recorded")


async def test_a_terminated_booking_gets_its_places_back_and_late_money_refunded(
    stack: Stack,
) -> None:
    session_id = await stack.new_session(capacity=3)
    view = await book(stack.temporal, stack.settings, session_id, 3)
    booking_id = view.id
    await stack.temporal.get_workflow_handle(booking_workflow_id(booking_id)).terminate(
        "by an operator"
    )

    report = await run_safety_net(stack.temporal, stack.settings, "released_a_terminated_booking")

    assert booking_id in report.released
    async with stack.db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None and row.status == BookingStatus.CANCELLED
    assert row.status_reason is not None and "safety net" in row.status_reason
    assert view.payment_intent_id is not None
    assert view.payment_intent_id not in report.refunded  # nobody paid yet

    assert await pay(stack.stripe_client, view.payment_intent_id) == "succeeded"
    await asyncio.sleep(2)  # localstripe's webhook finds the workflow gone: recorded only
    report = await run_safety_net(stack.temporal, stack.settings, "refunded_late_money")

    assert view.payment_intent_id in report.refunded
    refunds = await stack.stripe_client.v1.refunds.list_async(
        {"payment_intent": view.payment_intent_id}
    )
    assert [(r.amount, r.to_dict()["metadata"]["reason"]) for r in refunds.data] == [
        (view.amount_total, "late-payment")
    ]
    await emails_with(stack.sendgrid, booking_id, "late_payment_refunded", within=5)
    # Recorded on the booking as the safety net's, with what it refunded.
    assert await refunds_of(stack.db, booking_id) == [(view.amount_total, SAFETY_NET_REASON)]
    async with stack.db() as s:
        row = await s.get(Booking, uuid.UUID(booking_id))
    assert row is not None and row.amount_refunded == view.amount_total
    # Stripe tells of that refund too (localstripe does not): nothing new is recorded.
    charge = {"id": "ch_x", "object": "charge", "payment_intent": view.payment_intent_id}
    body, headers = signed_event("charge.refunded", charge)
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        told = await http.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert told.json()["outcome"] == "recording-refunds"
    await stack.temporal.get_workflow_handle(stripe_refunds_workflow_id(booking_id)).result()
    assert await refunds_of(stack.db, booking_id) == [(view.amount_total, SAFETY_NET_REASON)]

    again = await run_safety_net(stack.temporal, stack.settings)  # nothing left to put right
    assert booking_id not in again.released
    assert view.payment_intent_id not in again.refunded


async def test_the_worker_keeps_one_schedule_for_the_safety_net(
    temporal: Client, settings: Settings
) -> None:
    await ensure_safety_net(temporal, settings)
    quicker = settings.model_copy(update={"safety_net_interval_seconds": 60})
    await ensure_safety_net(temporal, quicker)  # a second start updates, never duplicates
    handle = temporal.get_schedule_handle(SAFETY_NET_ID)
    try:
        described = await handle.describe()
        intervals = described.schedule.spec.intervals
        assert intervals == [ScheduleIntervalSpec(every=timedelta(seconds=60))]
        # A run that overruns delays the next one, and one stuck is cut: none blocks the rest.
        assert described.schedule.policy.overlap == Overlap.BUFFER_ONE
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.run_timeout == RUN_TIMEOUT
    finally:
        await handle.delete()


async def test_a_booking_that_confirms_between_the_search_and_the_release_keeps_its_places(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """A live but slow workflow, its hold long past (as after a worker outage): the search finds
    it pending and overdue; its release is held until the booking has confirmed."""
    session_id = await stack.new_session(capacity=2)
    view = await book(stack.temporal, stack.settings, session_id, 2)
    assert view.payment_intent_id is not None
    await _overdue(stack.db, view.id)
    held_back = HeldBackRelease(stack.db, stack.temporal, stack.settings, view.id)
    own = await own_worker(held_back.activity)
    run = asyncio.create_task(run_safety_net(stack.temporal, own, hold_grace_seconds=0))
    await asyncio.wait_for(held_back.found.wait(), 30)
    assert await pay(stack.stripe_client, view.payment_intent_id) == "succeeded"
    confirmed_at = await _confirmed(stack.db, view.id)
    held_back.go_on.set()
    report = await run

    # It interleaved: found PENDING_PAYMENT, released (tried) after the confirmation.
    assert held_back.seen_status == BookingStatus.PENDING_PAYMENT
    assert held_back.released_at is not None and confirmed_at < held_back.released_at
    assert view.id in report.kept and view.id not in report.released
    await _sold_to(stack.db, session_id, view.id, 2)


async def _overdue(db: Db, booking_id: str) -> None:
    """The booking's hold long past, as after a worker outage (its workflow still waits)."""
    async with db.begin() as s:
        await s.execute(
            update(Booking)
            .where(Booking.id == uuid.UUID(booking_id))
            .values(hold_expires_at=datetime.now(UTC) - timedelta(hours=1))
        )


class HeldBackRelease:
    """The safety net's release activity, held back for one booking until `go_on` is set."""

    def __init__(self, db: Db, temporal: Client, settings: Settings, booking_id: str) -> None:
        stripe_client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
        self._repairs = RepairActivities(db, temporal, stripe_client)
        self._booking_id = booking_id
        self.found, self.go_on = asyncio.Event(), asyncio.Event()
        self.seen_status: BookingStatus | None = None
        self.released_at: datetime | None = None

        @activity.defn(name="release_orphan_places")
        async def release(hold: OrphanHold) -> int:
            if hold.booking_id == self._booking_id:
                self.seen_status = hold.status
                self.found.set()
                await self.go_on.wait()
                self.released_at = datetime.now(UTC)
            return await self._repairs.release(hold)

        self.activity = release


async def _sold_to(db: Db, session_id: str, booking_id: str, places: int) -> None:
    async with db() as s:
        seats = (
            await s.execute(
                select(Seat.state, Seat.booking_id).where(Seat.session_id == uuid.UUID(session_id))
            )
        ).all()
        booking = await s.get(Booking, uuid.UUID(booking_id))
    assert seats == [(SeatState.SOLD, uuid.UUID(booking_id))] * places
    assert booking is not None and booking.status == BookingStatus.CONFIRMED


async def test_a_release_that_waits_on_a_confirm_in_flight_frees_nothing_it_sold(
    stack: Stack, own_worker: OwnWorker
) -> None:
    """The review's interleaving (F1): the confirm has marked the seats SOLD but not committed
    (held on the reference counter) when the release's UPDATE reaches them and waits; the
    confirm commits, and PostgreSQL re-checks the waiting UPDATE's conditions on the new rows."""
    session_id = await stack.new_session(capacity=1)
    view = await book(stack.temporal, stack.settings, session_id)
    assert view.payment_intent_id is not None
    await _overdue(stack.db, view.id)
    async with stack.db.begin() as s:
        await s.execute(
            text(
                "INSERT INTO reference_counters (organisation_id, name, year, last_value)"
                " VALUES (:organisation, 'booking', extract(year FROM now()), 0)"
                " ON CONFLICT DO NOTHING"
            ).bindparams(organisation=DEFAULT_ORGANISATION_ID)
        )
    held_back = HeldBackRelease(stack.db, stack.temporal, stack.settings, view.id)
    own = await own_worker(held_back.activity)
    run = asyncio.create_task(run_safety_net(stack.temporal, own, hold_grace_seconds=0))
    await asyncio.wait_for(held_back.found.wait(), 30)
    async with stack.db() as counter:  # holds the confirm's transaction open after its seat update
        await counter.execute(
            text(
                "SELECT * FROM reference_counters WHERE name = 'booking'"
                " AND year = extract(year FROM now()) FOR UPDATE"
            )
        )
        assert await pay(stack.stripe_client, view.payment_intent_id) == "succeeded"
        await _waiting_on_a_lock(stack.db, "reference_counters")  # the confirm
        held_back.go_on.set()
        await _waiting_on_a_lock(stack.db, "UPDATE seats")  # the release, behind the confirm's rows
        await counter.rollback()
    report = await run

    assert view.id in report.kept and view.id not in report.released
    await _sold_to(stack.db, session_id, view.id, 1)


async def _waiting_on_a_lock(db: Db, query: str, within: float = 8) -> None:
    async def waiting() -> int:
        async with db() as s:
            found = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE :query AND pid <> pg_backend_pid()"
                ),
                {"query": f"%{query}%"},
            )
        return found or 0

    await eventually(waiting, within=within, every=0.05, what=f"a wait on a lock: {query}")


async def _confirmed(db: Db, booking_id: str, within: float = 20) -> datetime:
    async def confirmed_at() -> datetime | None:
        async with db() as s:
            booking = await s.get(Booking, uuid.UUID(booking_id))
        return None if booking is None else booking.confirmed_at

    at = await eventually(confirmed_at, within=within, what="the booking confirmed")
    assert at is not None
    return at


async def test_money_that_names_no_booking_of_ours_is_left_alone(stack: Stack) -> None:
    """£42.00 sold through the same Stripe account by something else: no booking metadata."""
    params: Any = {"amount": 4200, "currency": "gbp", "payment_method_types": ["card"]}
    intent = await stack.stripe_client.v1.payment_intents.create_async(params)
    assert await pay(stack.stripe_client, intent.id) == "succeeded"
    elsewhere: Any = {**params, "metadata": {"booking_id": str(uuid.uuid4())}}  # not ours
    named = await stack.stripe_client.v1.payment_intents.create_async(elsewhere)
    assert await pay(stack.stripe_client, named.id) == "succeeded"

    report = await run_safety_net(stack.temporal, stack.settings)

    assert intent.id not in report.refunded and named.id not in report.refunded
    for paid in (intent.id, named.id):
        refunds = await stack.stripe_client.v1.refunds.list_async({"payment_intent": paid})
        assert refunds.data == []


async def test_a_search_that_never_answers_ends_the_run_at_its_bound(
    temporal: Client, own_worker: OwnWorker
) -> None:
    @activity.defn(name="find_orphan_holds")
    async def never_answers(input: SafetyNetInput) -> list[OrphanHold]:
        await asyncio.sleep(3600)
        return []

    own = await own_worker(never_answers)
    started = time.monotonic()
    report = await run_safety_net(temporal, own, search_timeout_seconds=1)

    assert time.monotonic() - started < 30
    assert "find orphan holds" in report.failed
    assert "find unclaimed payments" not in report.failed  # the run went on without it


async def test_an_email_the_ledger_marks_failed_is_sent_again_and_reported(stack: Stack) -> None:
    view = await book(stack.temporal, stack.settings, await stack.new_session())
    handle = stack.temporal.get_workflow_handle(booking_workflow_id(view.id))
    key = f"{view.id}:cancelled"
    stack.sendgrid.fail_next(
        1, status=400
    )  # the cancellation email is refused: the ledger fails it
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest(), id=CANCEL_UPDATE_ID)
    await eventually(
        lambda: _email(stack.db, key),
        lambda email: email is not None and email.status == NotificationStatus.FAILED,
        what="the email marked failed",
    )
    sent_before = emails_for(stack.sendgrid, view.id)

    report = await run_safety_net(stack.temporal, stack.settings)

    assert key in report.emails_retried
    assert (sent_before, emails_for(stack.sendgrid, view.id)) == ([], ["cancelled"])
    email = await _email(stack.db, key)
    assert email is not None and email.status == NotificationStatus.SENT
    assert (
        key not in (await run_safety_net(stack.temporal, stack.settings)).emails_retried
    )  # sent now


async def _email(db: Db, key: str) -> Notification | None:
    async with db() as s:
        return await s.get(Notification, key)
