"""What the property test reads and how it talks to the real servers: the API (every answer
checked against the OpenAPI document, never a 5xx), PostgreSQL, localstripe, and Temporal's
description of a workflow (to wait until it is at rest); and reconcile's place and offer rules."""

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import stripe
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.repairs import stripe_refunds_workflow_id
from core.settings import Settings
from core.tickets import Ticket, sign
from messages.booking import booking_workflow_id
from messages.payments import amount_received
from messages.session_changes import session_change_id
from messages.sessions import session_cancellation_id
from messages.waiting_list import PLACES_SIGNAL, waiting_list_workflow_id
from models.tables import Booking, BookingPayment, BookingRefund, Seat, Session, WaitingListEntry
from reconcile import rules
from reconcile.consistency import check
from reconcile.findings import DEFAULT_GRACE
from reconcile.rules import Violation
from reconcile.snapshot import load_snapshot
from reconcile.workflow_states import WorkflowReader
from store.organisations import DEFAULT_ORGANISATION_ID
from tests.api.conftest import ADMIN
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.emails import emails_for
from tests.helpers.polling import eventually
from tests.helpers.timers import next_timer

Db = async_sessionmaker[AsyncSession]
Json = dict[str, Any]
T = TypeVar("T")

REST_WITHIN = 30.0  # seconds a workflow may take to settle after a step
_METHODS = {"get", "post", "put", "patch", "delete"}


class Documented:
    """The statuses the API's OpenAPI document gives for each operation."""

    def __init__(self, openapi: Json) -> None:
        self._operations: list[tuple[str, re.Pattern[str], set[int]]] = []
        for template, item in openapi["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for method, operation in item.items():
                if method in _METHODS:
                    codes = {int(c) for c in operation.get("responses", {}) if c.isdigit()}
                    self._operations.append((method.upper(), pattern, codes))

    def check(self, response: httpx.Response) -> None:
        request = response.request
        path = request.url.path
        for method, pattern, codes in self._operations:
            if method == request.method and pattern.match(path):
                assert response.status_code < 500, _said(response)
                assert response.status_code in codes, f"undocumented answer: {_said(response)}"
                return
        raise AssertionError(f"no documented operation for {request.method} {path}")


def _said(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url.path} -> {response.status_code} {response.text[:300]}"


@dataclass
class Servers:
    """The suite's real servers, as the test's fixtures give them, driven from another thread:
    every coroutine runs on the loop that owns the fixtures (`run`)."""

    loop: asyncio.AbstractEventLoop
    api: httpx.AsyncClient
    stripe: stripe.StripeClient
    db: Db
    temporal: Client
    documented: Documented
    sendgrid: FakeSendGrid
    settings: Settings
    answers: list[httpx.Response] = field(default_factory=list)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=300)

    async def call(
        self, method: str, path: str, *, admin: bool = False, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if admin:
            headers.update(ADMIN)
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await self.api.request(method, path, headers=headers, **kw)
        self.documented.check(response)
        return response

    async def booking(self, booking_id: str) -> Json:
        response = await self.call("GET", f"/v1/bookings/{booking_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def stripe_refunds(self, intent_id: str) -> dict[str, tuple[int, str | None]]:
        """Refund id -> (amount, the booking its metadata names) of every refund localstripe
        holds for the intent."""
        page = await self.stripe.v1.refunds.list_async({"payment_intent": intent_id, "limit": 100})
        return {
            r.id: (r.amount, (r.to_dict().get("metadata") or {}).get("booking_id"))
            for r in page.data
            if r.status != "failed"
        }

    async def claims(self, booking_ids: list[str]) -> dict[str, dict[str, int]]:
        """Booking id -> PaymentIntent -> what it claims of it (`booking_payments`, the
        claims of nothing left out)."""
        async with self.db() as s:
            rows = await s.execute(
                select(
                    BookingPayment.booking_id,
                    BookingPayment.payment_intent_id,
                    BookingPayment.amount,
                ).where(
                    BookingPayment.amount > 0,
                    BookingPayment.booking_id.in_([uuid.UUID(b) for b in booking_ids]),
                )
            )
            found: dict[str, dict[str, int]] = {}
            for booking_id, intent_id, amount in rows.all():
                found.setdefault(str(booking_id), {})[intent_id] = amount
        return found

    async def splits_of(self, booking_id: str) -> list[str]:
        """The bookings split off the booking, oldest first."""
        async with self.db() as s:
            rows = await s.scalars(
                select(Booking.id)
                .where(Booking.split_from == uuid.UUID(booking_id))
                .order_by(Booking.created_at, Booking.id)
            )
            return [str(b) for b in rows.all()]

    async def intent(self, intent_id: str) -> tuple[str, int, Json]:
        """The PaymentIntent's status, the amount it received, and itself as Stripe sends it."""
        intent = await self.stripe.v1.payment_intents.retrieve_async(intent_id)
        return str(intent.status), amount_received(intent), intent.to_dict()

    async def recorded_refunds(self, booking_id: str) -> dict[str, int]:
        """Stripe refund id -> amount of the booking's `booking_refunds` rows."""
        async with self.db() as s:
            rows = await s.execute(
                select(BookingRefund.stripe_refund_id, BookingRefund.amount).where(
                    BookingRefund.booking_id == uuid.UUID(booking_id)
                )
            )
            found = rows.all()
        ids = [refund_id for refund_id, _ in found]
        assert len(set(ids)) == len(ids), f"a Stripe refund recorded twice: {ids}"
        return dict(found)  # type: ignore[arg-type]

    async def mirror(self, booking_id: str) -> Booking:
        async with self.db() as s:
            row = await s.get(Booking, uuid.UUID(booking_id))
        assert row is not None, f"booking {booking_id} has no row"
        return row

    async def closed_before_cancellation(self, booking_id: str, session_id: str) -> bool:
        """Whether the booking closed before its session's cancellation began (then its
        customer's cancel keeps the policy's outcome)."""
        async with self.db() as s:
            closed_at = await s.scalar(
                select(Booking.closed_at).where(Booking.id == uuid.UUID(booking_id))
            )
            cancelled_at = await s.scalar(
                select(Session.cancelled_at).where(Session.id == uuid.UUID(session_id))
            )
        assert cancelled_at is not None, f"session {session_id} was not cancelled"
        return closed_at is not None and closed_at < cancelled_at

    async def seats(self, session_id: str) -> list[tuple[str, str, str | None]]:
        """(label, state, booking id) of every place of the session."""
        async with self.db() as s:
            rows = await s.execute(
                select(Seat.label, Seat.state, Seat.booking_id).where(
                    Seat.session_id == uuid.UUID(session_id)
                )
            )
            return [(label, state, str(b) if b else None) for label, state, b in rows.all()]

    async def at_rest(
        self,
        booking_ids: list[str],
        session_ids: list[str],
        lists: Sequence[str] = (),
        changes: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Wait until no booking, refund-recorder, session-cancellation, waiting-list (of the
        sessions `lists`) or session-change (of `changes`: session id and sequence) workflow
        has work in flight (no activity, no workflow task): every change asked for has been
        carried out or refused and announced, every place given back offered to whom the
        list owes it, and every refund Stripe told of after a booking's workflow ended
        recorded."""
        ids = [booking_workflow_id(b) for b in booking_ids]
        ids += [stripe_refunds_workflow_id(b) for b in booking_ids]
        ids += [session_cancellation_id(s) for s in session_ids]
        ids += [waiting_list_workflow_id(s) for s in lists]
        ids += [session_change_id(s, sequence) for s, sequence in changes]

        async def busy() -> list[str]:
            return [found for found in await asyncio.gather(*map(self._busy, ids)) if found]

        await eventually(
            busy, lambda found: not found, within=REST_WITHIN, every=0.05, what="at rest"
        )

    def ticket(self, session_id: str, booking_id: str, index: int) -> str:
        """The signed code of the booking's `index`-th ticket for the session."""
        ticket = Ticket(
            DEFAULT_ORGANISATION_ID, uuid.UUID(session_id), uuid.UUID(booking_id), index
        )
        return sign(ticket, self.settings.ticket_signing_keys)

    async def door_list(self, session_id: str) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """The session's door list: (booking id, ticket index) of every place it admits, and
        of those checked in; its counts agree with it."""
        response = await self.call("GET", f"/v1/sessions/{session_id}/attendees", admin=True)
        assert response.status_code == 200, response.text
        got = response.json()
        places = [(a["booking_id"], a["attendee_index"]) for a in got["attendees"]]
        assert len(set(places)) == len(places), f"a place listed twice: {places}"
        checked = {
            (a["booking_id"], a["attendee_index"]) for a in got["attendees"] if a["checked_in"]
        }
        assert (got["total"], got["checked_in"]) == (len(places), len(checked)), got
        return set(places), checked

    async def bookings_of(self, session_id: str) -> int:
        """How many bookings of the session PostgreSQL holds."""
        async with self.db() as s:
            found = await s.scalar(
                select(func.count()).where(Booking.session_id == uuid.UUID(session_id))
            )
        return int(found or 0)

    def session_changed_emails(self, booking_id: str) -> Counter[int]:
        """How many `session_changed` emails the booking was sent, by change sequence."""
        kinds = emails_for(self.sendgrid, booking_id)
        return Counter(int(k.split(":")[1]) for k in kinds if k.startswith("session_changed:"))

    async def next_timer(self, booking_id: str) -> tuple[str, datetime]:
        return await next_timer(self.temporal, booking_id)

    async def entry(self, entry_id: str) -> Json:
        response = await self.call("GET", f"/v1/waiting-list/{entry_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def lapse(self, session_id: str, entry_id: str) -> None:
        """The entry's open offer past its deadline from now, and its list (running: it holds
        an open offer) told, as its timer would at the deadline."""
        async with self.db.begin() as s:
            await s.execute(
                update(WaitingListEntry)
                .where(WaitingListEntry.id == uuid.UUID(entry_id))
                .values(offer_expires_at=func.now())
            )
        handle = self.temporal.get_workflow_handle(waiting_list_workflow_id(session_id))
        await handle.signal(PLACES_SIGNAL)

    async def place_violations(self, session_ids: list[str]) -> list[Violation]:
        """What reconcile's place and offer rules (I1, I3) find in these sessions, at rest."""
        snapshot = await load_snapshot(self.db, session_ids=session_ids, place_holders_only=True)
        booking_ids = list(snapshot.bookings)
        workflows = await WorkflowReader(self.temporal).read(booking_ids, ask_status=True)
        at_once = timedelta(0)
        return [
            *rules.places(snapshot, workflows, at_once, DEFAULT_GRACE),
            *rules.offers(snapshot, at_once, DEFAULT_GRACE),
        ]

    async def reconciled(self, session_ids: list[str], since: datetime) -> list[Violation]:
        """What the whole reconcile check finds in these sessions (their places, bookings
        with the bookings split off into them, and the payments and refunds since `since`),
        all at rest."""
        report = await check(
            self.db,
            self.temporal,
            self.stripe,
            session_ids=session_ids,
            settle_seconds=0,
            recheck_seconds=0,
            created_since=since,
        )
        return report.violations

    async def _busy(self, workflow_id: str) -> str | None:
        try:
            description = await self.temporal.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None  # a session never cancelled
            raise
        if description.status != WorkflowExecutionStatus.RUNNING:
            return None
        raw = description.raw_description
        if raw.pending_activities:
            names = [a.activity_type.name for a in raw.pending_activities]
            return f"{workflow_id}: activities {names}"
        if raw.HasField("pending_workflow_task"):
            return f"{workflow_id}: workflow task (attempt {raw.pending_workflow_task.attempt})"
        return None
