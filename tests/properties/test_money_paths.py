"""Issue 17, "prove it by exploring": random sequences of money operations over a few bookings,
against the real servers (PostgreSQL, Temporal, localstripe, the API, a worker), compared after
every step with a small model (tests/properties/model.py).

Each sequence makes 2-3 bookings on sessions with a 30 % group discount, a 100 % group discount,
no price or a dearer price, under a refund policy whose percent is 100, 50 or 0. Then hypothesis
draws steps: pay, pay twice, an admin's refund (retried with the same Idempotency-Key, or the
same key with another body), a refund made at Stripe (its signed `charge.refunded` sent or not),
places given back by count or by seat, a customer's cancel, the session's cancellation, a
customer's cancel at once with the session's cancellation or with an admin's refund, and replays
of the webhooks sent so far in another order; and the waiting list's (issue 21): joining a
session's list for more places than it has free, a cancel where the list waits, accepting,
declining or letting lapse an offer; and (issue 23 and the session changes) a ticket scanned at
the door, a session's time moved with an accept-or-refund window or not (a cancel inside it
refunded in full), bookings of a session that asks questions answering them (invalid answers
refused, holding nothing), and moves to a dearer session whose difference is paid at
localstripe; and partial moves (some places, by count or by seat, to a session of the same
price, a cheaper or a dearer one): the places moved become a booking C of their own, split off
the first P, which every later step may pick as any other. After each step, once every workflow
is at rest, the API, PostgreSQL and localstripe must agree with the model and with invariants
I1, I2 and I7; each booking's claims (`booking_payments`) are the model's, the claims on each
intent add up to what Stripe received, each booking's refunds (by their `metadata.booking_id`)
stay within what it claims of the intent and Stripe never refunds more than it received; a
partial move leaves remaining(P) + remaining(C) + P's refund = remaining(P) before; no place
is both offered and sold, held + sold + offered stay within the capacity, and reconcile's place
and offer rules find nothing; each session's door list counts a place checked in once, for a
CONFIRMED booking of that session; every booking open at a change of its session's time is told
once (one `session_changed` email, its timers set from the new times); every API answer must be
documented and none may be a 5xx. At each sequence's end the whole reconcile check finds
nothing in its sessions (the bookings split off into them included).

`MONEY_SEQUENCES=500` runs more sequences than the default 20; the run prints a line of
sequences, steps and violations, and how often each rule ran and some rules ended which way
(also hypothesis `event()`s).

Over 350 lines: one hypothesis state machine; its rules and the checks after each step read
and update the same model, so they are one class (the model and probes are beside it).
"""

import asyncio
import contextlib
import copy
import itertools
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import httpx
import hypothesis
import pytest
import stripe
from hypothesis import HealthCheck, event
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from temporalio.client import Client

from core.enums import BookingStatus, SeatState
from core.pricing import kept
from core.settings import Settings
from devstack.pay import pay
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.helpers.stripe_events import signed_event
from tests.helpers.threads import import_modules_of, in_own_thread
from tests.properties.model import (
    CAPACITY,
    CLOSED,
    OPEN,
    QUESTIONS,
    Answers,
    BookingModel,
    EntryModel,
    Json,
    Kind,
    SessionModel,
    answers,
    kept_labels,
    policy_share,
    session_body,
)
from tests.properties.probes import Db, Documented, Servers

# Imported here, in the main thread (tests/helpers/threads.py): the machine runs in a thread.
import_modules_of(hypothesis, skipping=(".extra",))

SEQUENCES = int(os.environ.get("MONEY_SEQUENCES", "20"))
STEPS = int(os.environ.get("MONEY_STEPS", "8"))
PAID_WITHIN = 15.0

CONFIRMED, PENDING = BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT
CANCELLED, REFUNDED = BookingStatus.CANCELLED, BookingStatus.REFUNDED

booking_specs = st.lists(  # kind of session, policy percent, places, paid at once
    st.tuples(
        st.sampled_from(Kind), st.sampled_from([100, 50, 0]), st.integers(1, 4), st.booleans()
    ),
    min_size=2,
    max_size=3,
)
which = st.integers(0, 2)


class Aim(StrEnum):
    """Where a partial move aims: a session of the booking's kind, a free one, a dearer one."""

    SAME = "its kind"
    FREE = "free"
    DEARER = "dearer"


T = TypeVar("T")


class Tally:
    sequences = 0
    steps = 0
    rules: Counter[str] = Counter()  # how often each rule ran
    outcomes: Counter[str] = Counter()  # how often some rules ended which way


class MoneyPaths(RuleBasedStateMachine):
    servers: Servers  # set by the test before it runs the machine

    def __init__(self) -> None:
        super().__init__()
        Tally.sequences += 1
        # By kind, policy percent and whether it asks QUESTIONS.
        self.sessions: dict[tuple[Kind, int, bool], SessionModel] = {}
        self.bookings: list[BookingModel] = []
        self.events: list[tuple[BookingModel, str, str, Json]] = []  # booking, type, id, object
        self.changes: list[tuple[str, str, Json]] = []  # path, Idempotency-Key, body
        self.entries: list[EntryModel] = []  # waiting-list entries, in join order
        self.time_changes: list[tuple[str, int]] = []  # (session id, sequence) announced
        self.started = datetime.now(UTC) - timedelta(seconds=1)  # for reconcile's money scope

    def run(self, coroutine: Any) -> Any:
        return self.servers.run(coroutine)

    @staticmethod
    def _ran(rule_name: str, *, step: bool = True) -> None:
        """Count a rule's run (a step, unless it only leads to another rule's)."""
        Tally.steps += step
        Tally.rules[rule_name] += 1
        event(f"rule {rule_name}")

    @staticmethod
    def _outcome(what: str) -> None:
        """Count how a rule ended, where its ways differ (a move dearer or refused...)."""
        Tally.outcomes[what] += 1
        event(what)

    # ---- setting up ------------------------------------------------------------------------

    @initialize(specs=booking_specs)
    def book(self, specs: list[tuple[Kind, int, int, bool]]) -> None:
        self._ran("book", step=False)
        to_pay = []
        for kind, percent, quantity, paid in specs:
            session = self.sessions.get((kind, percent, False)) or self._new_session(kind, percent)
            b = self._book(session, quantity)
            if b is not None and paid and b.status == PENDING:
                to_pay.append(b)
        self._settle()
        if to_pay:
            self._pay(to_pay)

    def _new_session(self, kind: Kind, percent: int, questions: bool = False) -> SessionModel:
        response = self.run(
            self.servers.call("POST", "/v1/sessions", admin=True, json=session_body(kind, percent))
        )
        assert response.status_code == 201, response.text
        session = SessionModel(response.json()["id"], kind, percent, questions)
        if questions:
            path = f"/v1/sessions/{session.id}/questions"
            put = self.run(self.servers.call("PUT", path, admin=True, json=QUESTIONS))
            assert put.status_code == 200, put.text
        self.sessions[(kind, percent, questions)] = session
        return session

    def _book(self, session: SessionModel, quantity: int) -> BookingModel | None:
        body = {
            "session_id": session.id,
            "quantity": quantity,
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            **session.form(quantity),
        }
        response = self.run(
            self.servers.call("POST", "/v1/bookings", key=str(uuid.uuid4()), json=body)
        )
        taken = self._taken(session)
        if session.cancelled or taken + quantity > CAPACITY:
            assert response.status_code == 409, response.text
            return None
        assert response.status_code == 201, response.text
        got = response.json()
        total = session.total(quantity)
        assert (got["quantity"], got["amount_total"]) == (quantity, total), got
        free = total == 0
        assert got["status"] == (CONFIRMED if free else PENDING), got
        assert (got["payment"]["payment_intent_id"] is None) == free, got
        if session.questions:
            given = {(a["question"], a["attendee"]): a["value"] for a in got["answers"]}
            asked = {(a["question"], a.get("attendee")): a["value"] for a in body["answers"]}
            assert given == asked, (given, asked)
        return self._booked(session, got)

    def _booked(self, session: SessionModel, got: Json) -> BookingModel:
        """A booking just started, in the model: its tickets are for the places it starts with
        (places are given back only once it is CONFIRMED)."""
        b = BookingModel(
            got["id"],
            session,
            BookingStatus(got["status"]),
            got["seats"],
            got["amount_total"],
            got["payment"]["payment_intent_id"],
            issued=list(got["seats"]),
        )
        self.bookings.append(b)
        return b

    def _booking(self, index: int, confirmed: bool = False) -> BookingModel:
        """The `index`-th booking (of the CONFIRMED ones, if `confirmed` and there are any)."""
        among = [b for b in self.bookings if b.status == CONFIRMED] if confirmed else []
        among = among or self.bookings
        return among[index % len(among)]

    def _taken(self, session: SessionModel) -> int:
        """The session's places held or sold to open bookings, or offered to its waiting
        list."""
        held = sum(
            len(b.labels) for b in self.bookings if b.session is session and b.status in OPEN
        )
        offered = sum(len(e.offer) for e in self._offered() if e.session is session)
        return held + offered

    def _pending(self) -> list[BookingModel]:
        return [b for b in self.bookings if b.status == PENDING]

    def _settled_intents(self) -> list[BookingModel]:
        """Bookings whose PaymentIntent was paid or cancelled."""
        return [b for b in self.bookings if b.intent_id and b.status != PENDING]

    def _refundable_at_stripe(self) -> list[BookingModel]:
        """Bookings with something left of what they claim of an intent they opened (the
        dashboard's refunds, naming no booking, are the opener's)."""
        return [
            b
            for b in self.bookings
            if b.split_from is None
            and any(b.claims.get(i, 0) > b.refunded_on_intent(i) for i in b.opened)
        ]

    def _claimed(self, intent_id: str) -> int:
        """What every booking claims of the intent."""
        return sum(b.claims.get(intent_id, 0) for b in self.bookings)

    # ---- steps -------------------------------------------------------------------------------

    @precondition(lambda self: self._pending())
    @rule(index=which)
    def pay(self, index: int) -> None:
        """Pay a pending booking at localstripe as Stripe.js does; localstripe's own signed
        webhook confirms it."""
        self._ran("pay")
        pending = self._pending()
        self._pay([pending[index % len(pending)]])

    def _pay(self, bookings: list[BookingModel]) -> None:
        for b in bookings:
            assert b.intent_id is not None
            assert self.run(pay(self.servers.stripe, b.intent_id)) == "succeeded"
        self.run(self._all_left_pending(bookings))
        for b in bookings:
            assert b.intent_id is not None
            _, b.claims[b.intent_id], intent = self.run(self.servers.intent(b.intent_id))
            b.opened.append(b.intent_id)
            self._note_event(b, "payment_intent.succeeded", intent)
        before = self._states()
        self._settle()
        for b in bookings:
            assert b.status == CONFIRMED, f"paid, yet {b.status}"
            assert b.paid == b.total, (b.paid, b.total)
        self._unchanged(before, but_ids={b.id for b in bookings})

    async def _all_left_pending(self, bookings: list[BookingModel]) -> None:
        await asyncio.gather(*map(self._left_pending, bookings))

    async def _left_pending(self, b: BookingModel) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PAID_WITHIN
        while (await self.servers.booking(b.id))["status"] == PENDING:
            assert loop.time() < deadline, f"paid, still {PENDING} after {PAID_WITHIN} s"
            await asyncio.sleep(0.1)

    @precondition(lambda self: self._settled_intents())
    @rule(index=which)
    def pay_twice(self, index: int) -> None:
        """Pay again what was paid (or can no longer be), and Stripe delivers the success twice
        more (its id again, and a new one): nothing moves."""
        settled = self._settled_intents()
        b = settled[index % len(settled)]
        assert b.intent_id is not None
        self._ran("pay_twice")
        before = self._states()
        # Stripe refuses to confirm a succeeded or cancelled PaymentIntent.
        with contextlib.suppress(stripe.StripeError):
            self.run(pay(self.servers.stripe, b.intent_id))
        status, received, intent = self.run(self.servers.intent(b.intent_id))
        assert received == self._claimed(b.intent_id), (status, received, b.claims)
        if status == "succeeded":
            event_id = self._note_event(b, "payment_intent.succeeded", intent)
            self.run(self._deliver("payment_intent.succeeded", intent, event_id))
        self._settle()
        self._unchanged(before)

    @precondition(lambda self: self.bookings)
    @rule(
        index=which,
        size=st.sampled_from(["one", "half", "rest", "over"]),
        retry=st.sampled_from(["none", "same body", "other body"]),
    )
    def admin_refund(self, index: int, size: str, retry: str) -> None:
        """An admin refunds part of a booking (POST /v1/bookings/{id}/refunds)."""
        self._ran("admin_refund")
        b = self._booking(index)
        amount = {
            "one": 1,
            "half": max(1, b.remaining // 2),
            "rest": max(1, b.remaining),
            "over": b.remaining + 1,
        }[size]
        path, key, body = f"/v1/bookings/{b.id}/refunds", str(uuid.uuid4()), {"amount": amount}
        before, old = self._states(), self._copy(b)
        first = self.run(self.servers.call("POST", path, admin=True, key=key, json=body))
        self._retried(first, path, key, body, retry, admin=True, other={"amount": amount + 1})
        self._settle()
        if old.status != CONFIRMED:
            assert first.status_code == 409, first.text
        elif amount > old.remaining_at_stripe:  # beyond what remains, in the books or at Stripe
            assert first.status_code == 422, (old.remaining, old.remaining_at_stripe, first.text)
        else:
            assert first.status_code in (200, 202), first.text
            self.changes.append((path, key, body))
            new = {i: a for i, a in b.at_stripe.items() if i not in old.at_stripe}
            # One refund, or one per intent when a dearer move's difference is among them.
            assert sum(new.values()) == amount, f"refunded {new}, asked {amount}"
            assert len(new) <= len(old.intents), f"refunded {new}, asked {amount}"
            self._refunds_were_recorded(old, b)
            self._status_follows_the_books(b)
            return self._unchanged(before, but=b)
        assert b.at_stripe == old.at_stripe, "a refused refund moved money"
        self._unchanged(before, but=b if old.unannounced else None)
        return None

    @precondition(lambda self: self._refundable_at_stripe())
    @rule(index=which, quarters=st.integers(1, 4), announce=st.booleans())
    def refund_at_stripe(self, index: int, quarters: int, announce: bool) -> None:
        """Someone refunds at Stripe (its dashboard): `quarters`/4 of what remains there; Stripe
        sends `charge.refunded` (signed) or, for now, not."""
        refundable = self._refundable_at_stripe()
        b = refundable[index % len(refundable)]
        self._ran("refund_at_stripe")
        before, old = self._states(), self._copy(b)
        intent_id, left = self.run(self._most_left(b))
        amount = max(1, left * quarters // 4)
        refund = self.run(
            self.servers.stripe.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": amount}
            )
        )
        b.unannounced, b.refunded_on = True, intent_id
        if announce:
            self._announce(b)
        self._settle()
        assert b.at_stripe == {**old.at_stripe, refund.id: amount}
        if announce:
            self._status_follows_the_books(b, was=old.status)
        else:
            assert (b.status, b.recorded) == (old.status, old.recorded), "told of nothing"
        self._unchanged(before, but=b)

    async def _most_left(self, b: BookingModel) -> tuple[str, int]:
        """Of the intents the booking opened (its own, or a dearer move's difference), the one
        with the most left at Stripe of what it claims (a partial move handed the rest over),
        and what is left of it."""
        left = {}
        for intent_id in b.opened:
            _, received, _ = await self.servers.intent(intent_id)
            refunds = await self.servers.stripe_refunds(intent_id)
            at_stripe = received - sum(amount for amount, _ in refunds.values())
            ours = b.claims.get(intent_id, 0) - b.refunded_on_intent(intent_id)
            left[intent_id] = min(at_stripe, ours)
        return max(left.items(), key=lambda item: item[1])

    @precondition(lambda self: self.bookings)
    @rule(
        index=which,
        count=st.integers(1, 4),
        by_seat=st.booleans(),
        seed=st.integers(0, 2**16),
        retry=st.sampled_from(["none", "same body", "other body"]),
    )
    def cancel_places(self, index: int, count: int, by_seat: bool, seed: int, retry: str) -> None:
        """The customer gives back `count` places, the last ones or chosen seats."""
        self._ran("cancel_places")
        b = self._booking(index)
        given_back = (
            random.Random(seed).sample(b.labels, min(count, len(b.labels)))
            if by_seat
            else b.labels[len(b.labels) - count :]
        )
        body: Json = {"seats": given_back} if by_seat else {"count": count}
        other: Json = {"count": count + 1} if by_seat else {"seats": b.labels[:1]}
        path, key = f"/v1/bookings/{b.id}/cancel-places", str(uuid.uuid4())
        before, old = self._states(), self._copy(b)
        first = self.run(self.servers.call("POST", path, key=key, json=body))
        self._retried(first, path, key, body, retry, admin=False, other=other)
        self._settle()
        if old.status != CONFIRMED:
            assert first.status_code == 409, first.text
        elif count >= len(old.labels):
            assert first.status_code == 422, first.text
        else:
            assert first.status_code in (200, 202), first.text
            self.changes.append((path, key, body))
            self._places_given_back(old, b, given_back)
            return self._unchanged(before, but=b)
        assert b.state == old.state, "a refused cancellation of places changed the booking"
        return self._unchanged(before)

    @precondition(lambda self: self.bookings)
    @rule(index=which)
    def customer_cancel(self, index: int) -> None:
        self._ran("customer_cancel")
        b = self._booking(index)
        before, old = self._states(), self._copy(b)
        response = self.run(self.servers.call("POST", f"/v1/bookings/{b.id}/cancel"))
        self._settle()
        if old.status not in OPEN:
            assert response.status_code in (200, 409), response.text
            return self._unchanged(before)
        assert response.status_code in (200, 202), response.text
        self._ended_by_policy(old, b)
        return self._unchanged(before, but=b)

    @precondition(lambda self: self.bookings)
    @rule(index=which)
    def cancel_session(self, index: int) -> None:
        """The organiser cancels a booking's session: every open booking of it is refunded in
        full (whatever the policy, whatever was refunded at Stripe meanwhile), or released."""
        self._ran("cancel_session")
        session = self._booking(index).session
        before = self._states()
        olds = {b.id: self._copy(b) for b in self.bookings if b.session is session}
        response = self.run(
            self.servers.call("POST", f"/v1/sessions/{session.id}/cancel", admin=True)
        )
        assert response.status_code in (200, 202), response.text
        session.cancelled = True
        self._settle()
        for b in self.bookings:
            if b.session is session:
                self._ended_by_the_session(olds[b.id], b)
        self._unchanged(before, but_session=session)

    @precondition(lambda self: self.bookings)
    @rule(index=which)
    def cancel_as_the_session_is_cancelled(self, index: int) -> None:
        """A customer cancels while the organiser cancels the session, both at once (issue 17
        case 9): the booking ends refunded in full, unless the customer's cancel closed it
        before the session's cancellation began; then the policy's outcome stands."""
        self._ran("cancel_as_the_session_is_cancelled")
        b = self._booking(index)
        session = b.session
        before = self._states()
        olds = {x.id: self._copy(x) for x in self.bookings if x.session is session}
        customer, organiser = self.run(
            _at_once(
                self.servers.call("POST", f"/v1/bookings/{b.id}/cancel"),
                self.servers.call("POST", f"/v1/sessions/{session.id}/cancel", admin=True),
            )
        )
        assert organiser.status_code in (200, 202), organiser.text
        assert customer.status_code in (200, 202, 409), customer.text
        session.cancelled = True
        self._settle()
        for x in self.bookings:
            if x.session is not session:
                continue
            old = olds[x.id]
            if x is b and old.status in OPEN and self._closed_before_cancellation(x):
                self._ended_by_policy(old, x)
            else:
                self._ended_by_the_session(old, x)
        self._unchanged(before, but_session=session)

    @precondition(lambda self: self.bookings)
    @rule(index=which, size=st.sampled_from(["one", "half"]))
    def refund_as_the_customer_cancels(self, index: int, size: str) -> None:
        """An admin's refund and the customer's cancel, both at once: a refund answered 200 or
        202 is carried out whichever came first (an order accepted before a cancel goes before
        it); the cancel gives back the policy's share of what remained after it."""
        self._ran("refund_as_the_customer_cancels")
        b = self._booking(index)
        before, old = self._states(), self._copy(b)
        amount = {"one": 1, "half": max(1, b.remaining // 2)}[size]
        refund, cancel = self.run(
            _at_once(
                self.servers.call(
                    "POST",
                    f"/v1/bookings/{b.id}/refunds",
                    admin=True,
                    key=str(uuid.uuid4()),
                    json={"amount": amount},
                ),
                self.servers.call("POST", f"/v1/bookings/{b.id}/cancel"),
            )
        )
        self._settle()
        if old.status != CONFIRMED:
            assert refund.status_code == 409, refund.text
            assert cancel.status_code in ((200, 202) if old.status in OPEN else (200, 409))
            if old.status in OPEN:
                self._ended_by_policy(old, b)
            return self._unchanged(before, but=b)
        if refund.status_code not in (200, 202):
            assert refund.status_code in (409, 422), refund.text
            assert cancel.status_code in (200, 202), cancel.text
            self._ended_by_policy(old, b)
            return self._unchanged(before, but=b)
        new = [a for i, a in b.at_stripe.items() if i not in old.at_stripe]
        # Its refunds (one per intent it takes from) among the new ones at Stripe.
        assert any(
            sum(parts) == amount
            for n in range(1, len(old.intents) + 1)
            for parts in itertools.combinations(new, n)
        ), f"an accepted refund of {amount} is not at Stripe: {new}"
        assert cancel.status_code in (200, 202, 409), cancel.text
        by_policy = b.stripe_refunded - old.stripe_refunded - amount
        percent = old.cancel_percent(old.session.percent)
        most = policy_share(old.remaining - amount, percent)
        least = policy_share(max(0, old.remaining_at_stripe - amount), percent)
        assert least <= by_policy <= most, (amount, by_policy, least, most)
        self._refunds_were_recorded(old, b)
        assert b.status in CLOSED, b.status
        return self._unchanged(before, but=b)

    def _closed_before_cancellation(self, b: BookingModel) -> bool:
        return bool(self.run(self.servers.closed_before_cancellation(b.id, b.session.id)))

    def _ended_by_policy(self, old: BookingModel, b: BookingModel) -> None:
        """The customer's cancel: what the policy gives back of what remained."""
        if old.status == PENDING or old.paid == 0:
            assert (b.status, b.at_stripe) == (CANCELLED, old.at_stripe), b.status
            return
        refunded = b.stripe_refunded - old.stripe_refunded
        percent = old.cancel_percent(old.session.percent)
        most = policy_share(old.remaining, percent)
        least = policy_share(old.remaining_at_stripe, percent)
        assert least <= refunded <= most, (refunded, least, most)
        self._refunds_were_recorded(old, b)
        assert b.status in CLOSED, b.status
        if refunded:
            assert (b.status == REFUNDED) == (b.recorded == b.paid), (b.status, b.recorded)

    def _ended_by_the_session(self, old: BookingModel, b: BookingModel) -> None:
        """The session's cancellation: an open booking refunded in full, or released."""
        if old.status not in OPEN:
            assert b.state == old.state, "a closed booking moved when its session was cancelled"
        elif old.paid == 0:
            assert (b.status, b.at_stripe) == (CANCELLED, old.at_stripe), b.status
        else:
            assert b.status == REFUNDED, f"a paid booking of a cancelled session is {b.status}"
            assert b.stripe_refunded == b.paid, (b.at_stripe, b.paid)
            self._refunds_were_recorded(old, b)

    @rule(index=which, percent=st.sampled_from([100, 50, 0]))
    def move_to_a_dearer_session(self, index: int, percent: int) -> None:
        """A CONFIRMED booking with something paid moves to the dearest kind of session, with
        its policy (`move`, aimed where the difference is paid; the session made if the world
        has none yet). With no such booking, one is made first: a place booked and paid on a
        session of `percent`."""
        self._ran("move_to_a_dearer_session", step=False)
        movable = self._paid_and_cheaper()
        if not movable:
            key = (Kind.GROUP_30, percent, False)
            session = self.sessions.get(key) or self._new_session(*key)
            b = self._book(session, 1)
            if b is None:  # no room
                return
            self._settle()
            self._pay([b])
            movable = [b]
        self.move(self.bookings.index(movable[index % len(movable)]), 0, dearer=True)

    def _paid_and_cheaper(self) -> list[BookingModel]:
        return [
            b
            for b in self.bookings
            if b.status == CONFIRMED and b.intent_id and b.session.kind != Kind.DEAR
        ]

    @precondition(lambda self: self.bookings)
    @rule(index=which, to=which)
    def move(self, index: int, to: int, dearer: bool = False) -> None:
        """The customer moves a booking to another session (issue 22): a CONFIRMED one to a
        session not cancelled and with room is of that session at its price; a cheaper one
        refunds the difference by its old session's percent, a dearer one asks for it on an
        intent of its own, paid here at localstripe (a booking with nothing paid cannot move
        where something is to be paid). Any other move is refused (409) and moves nothing.
        `dearer` aims at the dearest kind of session (made if the world has none with the
        booking's policy)."""
        self._ran("move")
        b = self._booking(index)
        if dearer and b.session.kind != Kind.DEAR:
            percent = b.session.percent
            target = self.sessions.get((Kind.DEAR, percent, False)) or self._new_session(
                Kind.DEAR, percent
            )
        else:
            others = [s for s in self.sessions.values() if s is not b.session]
            if not others:
                kind = Kind.FREE if b.session.kind == Kind.GROUP_30 else Kind.GROUP_30
                others = [self._new_session(kind, b.session.percent)]
            target = others[to % len(others)]
        before, old = self._states(), self._copy(b)
        taken = self._taken(target)
        price = target.total(len(old.labels))
        path = f"/v1/bookings/{b.id}/move"
        response = self.run(
            self.servers.call("POST", path, key=str(uuid.uuid4()), json={"session_id": target.id})
        )
        self._settle()
        if response.status_code == 409 and old.unannounced and not old.remaining_at_stripe:
            # All it paid was refunded at Stripe, untold: the move found it out (REFUNDED).
            self._refunds_were_recorded(old, b)
            assert (b.status, b.unannounced) == (REFUNDED, False), (b.status, b.at_stripe)
            self._outcome("move refused: found refunded at Stripe")
            return self._unchanged(before, but=b)
        if (
            old.status != CONFIRMED
            or target.cancelled
            or taken + len(old.labels) > CAPACITY
            or (price > old.total and old.intent_id is None and not old.claims)
        ):
            assert response.status_code == 409, response.text
            assert b.state == old.state, "a refused move changed the booking"
            self._outcome("move refused")
            return self._unchanged(before)
        if price > old.total:
            self._outcome("move dearer, the difference paid")
            return self._moved_dearer(b, old, target, response, before)
        self._outcome("move cheaper" if price < old.total else "move at the same price")
        assert response.status_code in (200, 202), response.text
        assert (b.total, len(b.labels)) == (price, len(old.labels)), (b.total, b.labels)
        self._moved(b, target)
        refunded = b.stripe_refunded - old.stripe_refunded
        due = min(policy_share(old.total - price, old.session.percent), old.remaining)
        assert 0 <= refunded <= due, (refunded, due)
        if not old.unannounced:
            assert refunded >= min(due, old.remaining_at_stripe), (refunded, due)
        self._refunds_were_recorded(old, b)
        # It holds places of its new session: CONFIRMED, even when nothing remains paid (moved
        # to a free session, the difference refunded in full).
        assert b.status == CONFIRMED, b.status
        return self._unchanged(before, but=b)

    def _moved_dearer(
        self,
        b: BookingModel,
        old: BookingModel,
        target: SessionModel,
        response: httpx.Response,
        before: dict[str, tuple[Any, ...]],
    ) -> None:
        """A dearer move answered 202 with the difference to pay: the booking stays where it
        is until the difference is paid (at localstripe, as Stripe.js would), then moves, what
        it paid grown by the difference and nothing refunded."""
        price = target.total(len(old.labels))
        assert response.status_code == 202, response.text
        asked = response.json()["move_payment"]
        assert (asked["amount"], asked["session_id"]) == (price - old.total, target.id), asked
        assert b.state == old.state, "a dearer move moved before its difference was paid"
        intent_id = asked["payment_intent_id"]
        assert self.run(pay(self.servers.stripe, intent_id)) == "succeeded"
        self.run(self._arrived(b, target))
        _, received, intent = self.run(self.servers.intent(intent_id))
        assert received == asked["amount"], (received, asked)
        self._note_event(b, "payment_intent.succeeded", intent)
        self._settle()
        assert (b.status, b.total, len(b.labels)) == (CONFIRMED, price, len(old.labels))
        assert b.at_stripe == old.at_stripe, "a dearer move refunded something"
        self._refunds_were_recorded(old, b)  # some made at Stripe, untold, may be found now
        b.claims[intent_id] = received
        b.opened.append(intent_id)
        self._moved(b, target)
        self._unchanged(before, but=b)

    @rule(index=which, aim=st.sampled_from(Aim), percent=st.sampled_from([100, 50, 0]))
    def move_some_places_of_a_paid_group(self, index: int, aim: Aim, percent: int) -> None:
        """`move_some_places` of a CONFIRMED booking of 2 places or more, one booked and paid
        first (3 places of a session with 30 % off 3 places, of `percent`) when there is none."""
        self._ran("move_some_places_of_a_paid_group", step=False)
        if not self._splittable():
            session = self.sessions.get((Kind.GROUP_30, percent, False)) or self._new_session(
                Kind.GROUP_30, percent
            )
            b = self._book(session, 3)
            if b is None:  # no room
                return
            self._settle()
            self._pay([b])
        self.move_some_places(index, aim, 1 + index % 2, index == 1, index)

    def _splittable(self) -> list[BookingModel]:
        return [b for b in self.bookings if b.status == CONFIRMED and len(b.labels) > 1]

    @precondition(lambda self: self._splittable())
    @rule(
        index=which,
        aim=st.sampled_from(Aim),
        count=st.integers(1, 3),
        by_seat=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def move_some_places(self, index: int, aim: Aim, count: int, by_seat: bool, seed: int) -> None:
        """The customer moves some places of a CONFIRMED booking P (`count` of its last, or
        chosen `seats`) to another session, aimed at one of its kind, a free one or a dearer
        one: they become a booking C of their own there. Their share (what P's total falls
        by) is handed over whole: refused (409) beyond what remains paid by P's books; a
        cheaper target's difference refunded by P by its policy, the rest claimed by C; a
        dearer one's asked (202) and paid here at localstripe, then claimed by C too.
        Nothing appears or vanishes: remaining(P) + remaining(C) + P's refund is what
        remained of P before."""
        self._ran("move_some_places")
        splittable = self._splittable()
        b = splittable[index % len(splittable)]
        count = min(count, len(b.labels) - 1)
        moving = random.Random(seed).sample(b.labels, count) if by_seat else b.labels[-count:]
        target = self._target(b, aim)
        places: Json = {"seats": moving} if by_seat else {"count": count}
        taken = self._taken(target)
        before, old = self._states(), self._copy(b)
        keep = kept_labels(old.labels, moving)
        share = old.total - kept(old.total, old.session.unit_price, old.labels, keep).total
        price = target.total(count)
        response = self.run(
            self.servers.call(
                "POST",
                f"/v1/bookings/{b.id}/move",
                key=str(uuid.uuid4()),
                json={"session_id": target.id, **places},
            )
        )
        way = "by seat" if by_seat else "by count"
        if (
            share > old.remaining
            or target.cancelled
            or taken + count > CAPACITY
            or (price > share and old.intent_id is None and not old.claims)
            or (response.status_code == 409 and old.unannounced)  # found at Stripe
        ):
            assert response.status_code == 409, response.text
            self._settle()
            self._refunds_were_recorded(old, b)
            assert (b.labels, b.total) == (old.labels, old.total), "a refused move moved"
            self._outcome(
                f"partial move refused{' (paid less than its share)' * (share > old.remaining)}"
            )
            return self._unchanged(before, but=b if old.unannounced else None)
        difference = max(0, price - share)
        if difference:
            assert response.status_code == 202, response.text
            asked = response.json()["move_payment"]
            assert (asked["amount"], asked["session_id"]) == (difference, target.id), asked
            intent_id = asked["payment_intent_id"]
            assert self.run(pay(self.servers.stripe, intent_id)) == "succeeded"
            split_id = self.run(self._split_off(b))
            _, received, intent = self.run(self.servers.intent(intent_id))
            assert received == difference, (received, difference)
            self._note_event(b, "payment_intent.succeeded", intent)
        else:
            assert response.status_code == 200, response.text
            split_id = response.json()["moved_to"]
            assert split_id, response.text
        kind = "dearer" if difference else "cheaper" if price < share else "at the same price"
        self._outcome(f"partial move {kind}, {way}")
        self._settle()
        assert (b.status, b.labels, b.total) == (CONFIRMED, keep, old.total - share), b
        refunded = b.stripe_refunded - old.stripe_refunded  # P's refund of the difference
        due = policy_share(max(0, share - price), old.session.percent)
        assert 0 <= refunded <= due, (refunded, due)
        if not old.unannounced:
            assert refunded >= min(due, old.remaining_at_stripe), (refunded, due)
        self._refunds_were_recorded(old, b)
        c = self._split(b, old, split_id, target, share - refunded, difference)
        if difference:
            c.claims[intent_id] = difference
        self.run(self._read(c))
        assert (c.status, c.split_from, len(c.labels), c.total) == (
            CONFIRMED,
            b.id,
            count,
            price,
        ), c
        assert c.remaining == share - refunded + difference, (c.remaining, share, refunded)
        if not old.unannounced:
            assert b.remaining + c.remaining - difference + refunded == old.remaining, (
                b.remaining,
                c.remaining,
                refunded,
                old.remaining,
            )
        return self._unchanged(before, but_ids={b.id, c.id})

    def _target(self, b: BookingModel, aim: "Aim") -> SessionModel:
        """A session (asking no questions) other than the booking's, of the kind `aim` names:
        one there is, or a new one with another refund policy."""
        kind = {Aim.SAME: b.session.kind, Aim.FREE: Kind.FREE, Aim.DEARER: Kind.DEAR}[aim]
        for percent in (b.session.percent, 100, 50, 0):
            found = self.sessions.get((kind, percent, False))
            if found is not None and found is not b.session:
                return found
        percent = next(p for p in (100, 50, 0) if (kind, p, False) not in self.sessions)
        return self._new_session(kind, percent)

    async def _split_off(self, b: BookingModel) -> str:
        """The booking a dearer partial move of `b` splits off, once its difference is paid."""
        known = {x.id for x in self.bookings}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PAID_WITHIN
        while True:
            new = [x for x in await self.servers.splits_of(b.id) if x not in known]
            if new:
                return new[0]
            assert loop.time() < deadline, f"difference paid, not split after {PAID_WITHIN} s"
            await asyncio.sleep(0.1)

    def _split(
        self,
        b: BookingModel,
        old: BookingModel,
        split_id: str,
        target: SessionModel,
        handed: int,
        difference: int,
    ) -> BookingModel:
        """The booking split off `b`, in the model: it claims `handed` of b's claims, newest
        intent first, never below what b refunded of each (as `booking_payments` says, which
        is checked against this after every step)."""
        found = self.run(self.servers.claims([b.id, split_id]))
        parts: dict[str, int] = {}
        left = handed
        for intent_id in reversed(old.intents):
            part = min(left, old.claims[intent_id] - b.refunded_on_intent(intent_id))
            if part > 0:
                parts[intent_id] = part
                left -= part
        if old.unannounced:  # b's books knew less than Stripe: what they knew decided
            parts = {i: a for i, a in found.get(split_id, {}).items() if i in old.claims}
        assert left == 0 or old.unannounced, (handed, old.claims, left)
        assert sum(parts.values()) == handed, (parts, handed)
        for intent_id, part in parts.items():
            b.claims[intent_id] -= part
        c = BookingModel(split_id, target, CONFIRMED, [], 0, None, parts, split_from=b.id)
        self.bookings.append(c)
        self.run(self._read(c))
        c.issued = list(c.labels)
        return c

    async def _arrived(self, b: BookingModel, target: SessionModel) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PAID_WITHIN
        while (await self.servers.booking(b.id))["session_id"] != target.id:
            assert loop.time() < deadline, f"difference paid, not moved after {PAID_WITHIN} s"
            await asyncio.sleep(0.1)

    @staticmethod
    def _moved(b: BookingModel, target: SessionModel) -> None:
        """A booking moved: of its new session, its tickets issued anew for its new places; an
        accept-or-refund window of its old session's change does not follow it."""
        b.session, b.issued, b.window_until = target, list(b.labels), None

    @precondition(lambda self: self.events)
    @rule(seed=st.integers(0, 2**16), count=st.integers(1, 4))
    def replay_webhooks(self, seed: int, count: int) -> None:
        """Stripe delivers events again (same ids, signed anew), in another order."""
        self._ran("replay_webhooks")
        picked = random.Random(seed).choices(self.events, k=count)
        before = self._states()
        told = set()
        for b, event_type, event_id, obj in picked:
            self.run(self._deliver(event_type, obj, event_id))
            if event_type == "charge.refunded" and b.unannounced:
                b.unannounced = False
                told.add(b.id)
        self._settle()
        for b in self.bookings:
            if b.id in told:
                self._status_follows_the_books(b, was=before[b.id][0])
        self._unchanged(before, but_ids=told)

    @precondition(lambda self: self.changes)
    @rule(index=st.integers(0, 50), same_body=st.booleans())
    def retry_an_earlier_change(self, index: int, same_body: bool) -> None:
        """A change that was carried out is sent again with its Idempotency-Key, later: with
        the same body it does nothing more; with another, 422 and nothing."""
        self._ran("retry_an_earlier_change")
        path, key, body = self.changes[index % len(self.changes)]
        if not same_body:
            body = {"amount": 1} if "amount" not in body else {"amount": body["amount"] + 1}
        admin = path.endswith("/refunds")
        before = self._states()
        response = self.run(self.servers.call("POST", path, admin=admin, key=key, json=body))
        self._settle()
        if not same_body:
            assert response.status_code == 422, f"same key, other body: {response.text}"
        self._unchanged(before)

    # ---- the waiting list ------------------------------------------------------------------

    @precondition(lambda self: self.bookings)
    @rule(index=which, more=st.integers(1, 2))
    def join_waiting_list(self, index: int, more: int) -> None:
        """A customer asks for `more` places than a booking's session has free and joins its
        waiting list; with every place free already, 409 `places-available` (book instead)."""
        self._ran("join_waiting_list")
        session = self._booking(index).session
        free = self.run(self._free(session))
        quantity = min(free + more, CAPACITY)
        body = {"quantity": quantity, "customer": {"name": "Grace Hopper", "email": "g@ex.com"}}
        before = self._states()
        response = self.run(
            self.servers.call(
                "POST", f"/v1/sessions/{session.id}/waiting-list", key=str(uuid.uuid4()), json=body
            )
        )
        if session.cancelled or quantity <= free:
            assert response.status_code == 409, response.text
            if not session.cancelled:
                assert response.json()["available"] == free, response.text
        else:
            assert response.status_code == 201, response.text
            self.entries.append(EntryModel(response.json()["id"], session, quantity))
        self._settle()
        self._unchanged(before)

    @precondition(lambda self: self._offered())
    @rule(index=which)
    def accept_offer(self, index: int) -> None:
        """An entry accepts its offer: its booking starts with exactly the offered places,
        priced as any booking of that many."""
        self._ran("accept_offer")
        e = self._pick_offer(index)
        before = self._states()
        response = self.run(
            self.servers.call(
                "POST",
                f"/v1/waiting-list/{e.id}/accept",
                json={"token": e.token, **e.session.form(e.quantity)},
            )
        )
        assert response.status_code == 201, response.text
        got = response.json()
        total = e.session.total(e.quantity)
        assert sorted(got["seats"]) == sorted(e.offer), (got["seats"], e.offer)
        assert (got["quantity"], got["amount_total"]) == (e.quantity, total), got
        b = self._booked(e.session, got)
        self._settle()
        assert e.state == "accepted", e.state
        assert b.status == (CONFIRMED if total == 0 else PENDING), b.status
        self._unchanged(before, but=b)

    @precondition(lambda self: self._offered())
    @rule(index=which)
    def decline_offer(self, index: int) -> None:
        """An entry declines its offer: it leaves the list; its places go to the next entry
        that fits, or back to sale."""
        self._ran("decline_offer")
        e = self._pick_offer(index)
        before = self._states()
        response = self.run(
            self.servers.call("POST", f"/v1/waiting-list/{e.id}/decline", json={"token": e.token})
        )
        assert response.status_code == 200, response.text
        self._settle()
        assert (e.state, e.offer) == ("declined", []), (e.state, e.offer)
        self._unchanged(before)

    @precondition(lambda self: self._offered())
    @rule(index=which)
    def let_offer_expire(self, index: int) -> None:
        """An entry lets its offer lapse (its deadline brought to now, its list told as its
        timer would be): the places move on, the entry is never offered them again."""
        self._ran("let_offer_expire")
        e = self._pick_offer(index)
        before = self._states()
        self.run(self.servers.lapse(e.session.id, e.id))
        self._settle()
        assert (e.state, e.offer) == ("expired", []), (e.state, e.offer)
        self._unchanged(before)

    @precondition(lambda self: self._waited_on())
    @rule(index=which)
    def cancel_while_the_list_waits(self, index: int) -> None:
        """A customer cancels a booking of a session whose waiting list has someone waiting
        (`customer_cancel`, aimed where the list gets the places: offers to accept, decline or
        let lapse come of it)."""
        self._ran("cancel_while_the_list_waits", step=False)
        waited_on = self._waited_on()
        self.customer_cancel(self.bookings.index(waited_on[index % len(waited_on)]))

    def _waited_on(self) -> list[BookingModel]:
        """Open bookings of sessions with someone on their waiting list."""
        lists = {e.session.id for e in self.entries if e.state == "waiting"}
        return [b for b in self.bookings if b.status in OPEN and b.session.id in lists]

    def _offered(self) -> list[EntryModel]:
        return [e for e in self.entries if e.state == "offered"]

    def _pick_offer(self, index: int) -> EntryModel:
        offered = self._offered()
        return offered[index % len(offered)]

    async def _free(self, session: SessionModel) -> int:
        seats = await self.servers.seats(session.id)
        return sum(state == SeatState.FREE for _, state, _ in seats)

    async def _read_entry(self, e: EntryModel) -> None:
        got = await self.servers.entry(e.id)
        e.state = got["state"]
        offer = got["offer"] or {}
        e.offer, e.token = list(offer.get("seats", [])), offer.get("token")

    @invariant()
    def offers_agree(self) -> None:
        """Never oversold, no place both offered and sold (or held), held + sold + offered
        within the capacity, each open offer holds exactly its entry's places, a cancelled
        session's list has ended, and reconcile's place and offer rules find nothing."""
        self.run(self._offers_agree())

    async def _offers_agree(self) -> None:
        for session in self.sessions.values():
            seats = await self.servers.seats(session.id)
            offered = {label for label, state, _ in seats if state == SeatState.OFFERED}
            owned = {
                label
                for b in self.bookings
                if b.session is session and b.status in OPEN
                for label in b.labels
            }
            assert not offered & owned, f"offered and sold or held: {offered & owned}"
            assert len(offered) + len(owned) <= CAPACITY, (offered, owned)
            offers = [e for e in self.entries if e.session is session and e.state == "offered"]
            for e in offers:
                assert len(e.offer) == e.quantity, (e.offer, e.quantity)
            assert offered == {label for e in offers for label in e.offer}, (offered, offers)
            if session.cancelled:
                live = [e.state for e in self.entries if e.session is session]
                assert not {"waiting", "offered"} & set(live), live
        found = await self.servers.place_violations([s.id for s in self.sessions.values()])
        assert not found, (
            found,
            [(b.id, b.split_from, b.status, b.session.kind, b.paid) for b in self.bookings],
        )

    # ---- at the door, a session's time, its questions ----------------------------------------

    @precondition(lambda self: self.bookings)
    @rule(index=which, place=st.integers(0, 3), confirmed=st.booleans())
    def check_in(self, index: int, place: int, confirmed: bool) -> None:
        """Door staff scan the booking's `place`-th ticket for its session (issue 23): a place
        of a CONFIRMED booking that it still holds checks in once (again: already checked in);
        any other ticket is refused (422 `ticket-refused`). No money moves."""
        self._ran("check_in")
        b = self._booking(index, confirmed)
        before = self._states()
        code = self.servers.ticket(b.session.id, b.id, place)
        path = f"/v1/sessions/{b.session.id}/check-ins"
        response = self.run(self.servers.call("POST", path, admin=True, json={"code": code}))
        if b.status == CONFIRMED and place in b.admitted:
            assert response.status_code == 200, response.text
            again = (b.session.id, place) in b.checked_in
            expected = "already_checked_in" if again else "checked_in"
            assert response.json()["status"] == expected, (response.text, b.checked_in)
            assert response.json()["booking_id"] == b.id, response.text
            b.checked_in.add((b.session.id, place))
            self._outcome(f"check-in {expected}")
        else:
            self._outcome("check-in refused")
            assert response.status_code == 422, response.text
            assert response.json()["type"].endswith("ticket-refused"), response.text
        self._settle()
        self._unchanged(before)

    @invariant()
    def door_agrees(self) -> None:
        """Each session's door list holds every place its CONFIRMED bookings hold (and no
        other), and counts as checked in exactly the places scanned in while so: a place is
        counted once, for a CONFIRMED booking of that session."""
        self.run(self._door_agrees())

    async def _door_agrees(self) -> None:
        for session in self.sessions.values():
            places, checked = await self.servers.door_list(session.id)
            ours = [b for b in self.bookings if b.session is session and b.status == CONFIRMED]
            assert places == {(b.id, i) for b in ours for i in b.admitted}, places
            expected = {
                (b.id, i) for b in ours for i in b.admitted if (session.id, i) in b.checked_in
            }
            assert checked == expected, (checked, expected)

    @precondition(lambda self: self.bookings)
    @rule(
        index=which,
        hours=st.sampled_from([-3, -1, 1, 2]),
        window=st.booleans(),
        cancel_inside=st.booleans(),
    )
    def change_session_time(
        self, index: int, hours: int, window: bool, cancel_inside: bool
    ) -> None:
        """The organiser moves a booking's session by `hours` (PATCH), with an accept-or-refund
        window or not: every booking open then is told once (its workflow's timers set from
        the new times, one `session_changed` email each); a cancelled session's time is not
        changed (409). Inside the window a customer's cancel is refunded in full (`cancel_inside`
        cancels one of the session's bookings at once); money moves no other way."""
        self._ran("change_session_time")
        session = self._booking(index).session
        path = f"/v1/sessions/{session.id}"
        was = self.run(self.servers.call("GET", path)).json()
        starts = datetime.fromisoformat(was["starts_at"]) + timedelta(hours=hours)
        ends = datetime.fromisoformat(was["ends_at"]) + timedelta(hours=hours)
        body: Json = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
        if window:  # a move of an hour or more opens it; long enough for the whole sequence
            body["accept_or_refund"] = {"window_seconds": 600, "min_shift_seconds": 1800}
        before = self._states()
        response = self.run(self.servers.call("PATCH", path, admin=True, json=body))
        if session.cancelled:
            self._outcome("time change refused")
            assert response.status_code == 409, response.text
            self._settle()
            return self._unchanged(before)
        assert response.status_code == 200, response.text
        change = response.json()["change"]
        session.changes += 1
        assert change["sequence"] == session.changes, change
        until = change["refund_in_full_until"]
        assert (until is not None) == window, change
        told = [b for b in self.bookings if b.session is session and b.status in OPEN]
        self._outcome(f"time change {'with' if window else 'without'} a window, {len(told)} told")
        for b in told:
            b.told.append(session.changes)
            b.window_until = datetime.fromisoformat(until) if until else None
        self.time_changes.append((session.id, session.changes))
        self._settle()
        now = self.run(self.servers.call("GET", path)).json()
        moved_to = (
            datetime.fromisoformat(now["starts_at"]),
            datetime.fromisoformat(now["ends_at"]),
        )
        assert moved_to == (starts, ends), now
        self.run(self._timed_anew(told, starts, ends))
        self._told_once()
        self._unchanged(before)
        paid = [b for b in told if b.status == CONFIRMED and b.remaining]
        if window and cancel_inside and paid:
            self._outcome("cancel inside the window")
            self.customer_cancel(self.bookings.index(paid[0]))
            assert paid[0].status == REFUNDED, f"cancelled inside the window: {paid[0].status}"
        return None

    async def _timed_anew(self, told: list[BookingModel], starts: datetime, ends: datetime) -> None:
        """Each CONFIRMED booking told of the change waits, at rest, for a timer set from the
        session's new times: its reminder, its session's end, or its window's end."""
        remind = timedelta(seconds=self.servers.settings.reminder_before_seconds)
        for b in told:
            if b.status != CONFIRMED:
                continue
            summary, fires = await self.servers.next_timer(b.id)
            due = {starts - remind, ends}
            if b.window_until is not None:
                due.add(b.window_until)
            assert any(abs((fires - at).total_seconds()) < 5 for at in due), (
                f"booking {b.id} waits for {summary!r} at {fires}, not at any of {sorted(due)}"
            )

    def _told_once(self) -> None:
        """Exactly one `session_changed` email per booking per change it was told of."""
        for b in self.bookings:
            sent = self.servers.session_changed_emails(b.id)
            assert sent == Counter(b.told), f"booking {b.id}: sent {sent}, told {b.told}"

    @rule(
        kind=st.sampled_from(Kind),
        percent=st.sampled_from([100, 50, 0]),
        quantity=st.integers(1, 3),
        given=st.sampled_from(Answers),
    )
    def answer_questions(self, kind: Kind, percent: int, quantity: int, given: Answers) -> None:
        """A customer books a session that asks QUESTIONS (one per booking, one per attendee,
        both required): valid answers book it and are kept as given; invalid ones are refused
        (422) and hold nothing, start no booking."""
        self._ran("answer_questions")
        session = self.sessions.get((kind, percent, True)) or self._new_session(
            kind, percent, questions=True
        )
        before = self._states()
        self._outcome(f"answers: {given}")
        if given == Answers.VALID:
            b = self._book(session, quantity)
            self._settle()
            return self._unchanged(before, but=b)
        seats = sorted(self.run(self.servers.seats(session.id)))
        count = self.run(self.servers.bookings_of(session.id))
        body = {
            "session_id": session.id,
            "quantity": quantity,
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "answers": answers(quantity, given),
        }
        response = self.run(
            self.servers.call("POST", "/v1/bookings", key=str(uuid.uuid4()), json=body)
        )
        # Refused for its answers (or, first, for its session's cancellation).
        refused = (409, 422) if session.cancelled else (422,)
        assert response.status_code in refused, response.text
        self._settle()
        assert sorted(self.run(self.servers.seats(session.id))) == seats, (
            "a refused booking held places"
        )
        assert self.run(self.servers.bookings_of(session.id)) == count, "a refused booking"
        return self._unchanged(before)

    # ---- checks after every step -------------------------------------------------------------

    @invariant()
    def books_agree(self) -> None:
        """The model, the API, PostgreSQL and localstripe agree (I1, I2, I7)."""
        self.run(self._agree())

    def teardown(self) -> None:
        """Stripe retries its events until delivered: at the end every refund made at Stripe has
        been told, and the books equal Stripe refund by refund. (Not after a failed step: its
        own error is the one to report.)"""
        if not self.bookings or sys.exc_info()[1] is not None:
            return
        for b in self.bookings:
            if b.unannounced:
                self._announce(b)
        self._settle()
        for b in self.bookings:
            assert b.recorded == b.stripe_refunded, (b.id, b.recorded, b.at_stripe)
        self.run(self._agree())
        self._told_once()
        self._reconciled()

    def _reconciled(self) -> None:
        """The whole reconcile check finds nothing in the sequence's sessions (the bookings
        split off into them included)."""
        sessions = [s.id for s in self.sessions.values()]
        found = self.run(self.servers.reconciled(sessions, self.started))
        assert not found, found

    async def _agree(self) -> None:
        await asyncio.gather(
            self._claims_agree(),
            *(self._booking_agrees(b) for b in self.bookings),
            *(self._places_agree(session) for session in self.sessions.values()),
        )

    async def _booking_agrees(self, b: BookingModel) -> None:
        api = await self.servers.booking(b.id)
        assert BookingStatus(api["status"]) == b.status
        assert (api["quantity"], api["seats"]) == (len(b.labels), b.labels), api
        assert api["amount_total"] >= 0, api
        assert api["amount_refunded"] == b.recorded, api
        if "amount_paid" in api:
            assert api["amount_paid"] == b.paid, api
        if "amount_remaining" in api:
            assert api["amount_remaining"] == b.paid - b.recorded >= 0, api
        recorded = await self.servers.recorded_refunds(b.id)
        assert sum(recorded.values()) == b.recorded, recorded
        assert (await self.servers.mirror(b.id)).amount_refunded == b.recorded
        for refund_id, amount in recorded.items():
            assert b.at_stripe.get(refund_id) == amount, f"{refund_id} is not so at Stripe"
        # I7: nothing refunded beyond what was paid; the books equal Stripe once told.
        assert b.stripe_refunded <= b.paid, f"refunded {b.at_stripe} of {b.paid} paid"
        if not b.unannounced:
            assert b.recorded == b.stripe_refunded, (b.recorded, b.at_stripe)
        assert b.status != REFUNDED or b.recorded == b.paid > 0, (b.status, b.recorded)
        if b.status == CONFIRMED and b.paid and b.total:
            assert b.recorded < b.paid, "nothing remains paid, yet CONFIRMED"
        await self._payment_agrees(b)

    async def _payment_agrees(self, b: BookingModel) -> None:
        """I2: a succeeded payment belongs to a confirmed booking, or one closed by a refund or
        the policy; the claims on each intent add up to what it received, and each booking's
        refunds of an intent stay within what it claims of it (so Stripe never refunds more
        than it received)."""
        if b.intent_id is not None:
            status, _, _ = await self.servers.intent(b.intent_id)
            if status == "succeeded":
                assert b.status in (CONFIRMED, *CLOSED), b.status
                assert b.intent_id in b.claims, (b.intent_id, b.claims)
            elif b.status == CONFIRMED:
                raise AssertionError(f"CONFIRMED, yet the intent is {status}")
        for intent_id, claimed in b.claims.items():
            status, received, _ = await self.servers.intent(intent_id)
            assert status == "succeeded", (intent_id, status)
            assert received == self._claimed(intent_id), (intent_id, received, claimed)
            refunds = await self.servers.stripe_refunds(intent_id)
            assert sum(amount for amount, _ in refunds.values()) <= received, (intent_id, refunds)
            ours = b.refunded_on_intent(intent_id)
            assert ours <= claimed, f"{b.id} refunded {ours} of {intent_id}, claims {claimed}"

    async def _claims_agree(self) -> None:
        """`booking_payments` holds the model's claims, booking by booking."""
        found = await self.servers.claims([b.id for b in self.bookings])
        for b in self.bookings:
            expected = {i: amount for i, amount in b.claims.items() if amount}
            rows = {
                i: amount
                for i, amount in found.get(b.id, {}).items()
                if i in b.claims or i != b.intent_id  # its own, unpaid: a claim of nothing
            }
            assert rows == expected, (b.id, rows, expected)

    async def _places_agree(self, session: SessionModel) -> None:
        """I1: each place is held or sold for at most one open booking, as the model says."""
        seats = await self.servers.seats(session.id)
        assert len(seats) == CAPACITY
        ours = {b.id: b for b in self.bookings if b.session is session}
        expected = {
            label: (SeatState.HELD if b.status == PENDING else SeatState.SOLD, b.id)
            for b in ours.values()
            if b.status in OPEN
            for label in b.labels
        }
        taken = {
            label: (state, owner)
            for label, state, owner in seats
            if state not in (SeatState.FREE, SeatState.OFFERED)  # offered: `offers_agree`
        }
        assert taken == expected, (taken, expected)

    # ---- helpers -----------------------------------------------------------------------------

    def _retried(
        self,
        first: httpx.Response,
        path: str,
        key: str,
        body: Json,
        retry: str,
        *,
        admin: bool,
        other: Json,
    ) -> None:
        """The same request again at once (same key): the same answer; the same key with
        another body after a change was accepted: 422."""
        if retry == "same body":
            again = self.run(self.servers.call("POST", path, admin=admin, key=key, json=body))
            assert again.status_code == first.status_code, (first.text, again.text)
            if first.status_code == 200:
                assert again.json() == first.json()
        elif retry == "other body" and first.status_code in (200, 202):
            again = self.run(self.servers.call("POST", path, admin=admin, key=key, json=other))
            assert again.status_code == 422, f"same key, other body: {again.text}"

    def _places_given_back(self, old: BookingModel, b: BookingModel, given_back: list[str]) -> None:
        """The kept places cost their share of what was paid, never more; the places given
        back refund their share times the policy percent."""
        n, k = len(old.labels), len(given_back)
        assert b.labels == kept_labels(old.labels, given_back), (old.labels, b.labels)
        assert b.total <= old.total, f"the {n - k} places kept now cost {b.total} > {old.total}"
        share = old.total - b.total
        assert abs(share * n - old.total * k) <= n, f"{k} of {n} places carried {share}"
        refunded = b.stripe_refunded - old.stripe_refunded
        due = min(policy_share(share, old.session.percent), old.remaining)
        assert 0 <= refunded <= due + 1, (refunded, due)
        if not old.unannounced:
            assert refunded >= min(due - 1, old.remaining_at_stripe), (refunded, due)
        self._refunds_were_recorded(old, b)
        self._status_follows_the_books(b)

    def _refunds_were_recorded(self, old: BookingModel, b: BookingModel) -> None:
        """Every new refund at Stripe is on the booking's books (the ones made at Stripe that
        were not told yet may be too)."""
        made = b.stripe_refunded - old.stripe_refunded
        assert old.recorded + made <= b.recorded <= b.stripe_refunded, (
            old.recorded,
            made,
            b.recorded,
        )
        if b.recorded == b.stripe_refunded:
            b.unannounced = False

    def _status_follows_the_books(self, b: BookingModel, was: BookingStatus | None = None) -> None:
        if (was or b.status) == CONFIRMED:
            expected = REFUNDED if b.paid and b.recorded == b.paid else CONFIRMED
            assert b.status == expected, (b.status, b.recorded, b.paid)

    def _announce(self, b: BookingModel) -> None:
        """Stripe's `charge.refunded`, for the charge of the intent last refunded at Stripe."""
        assert b.intent_id is not None
        charge = {
            "id": f"ch_{uuid.uuid4().hex[:14]}",
            "object": "charge",
            "payment_intent": b.refunded_on or b.intent_id,
        }
        event_id = self._note_event(b, "charge.refunded", charge)
        self.run(self._deliver("charge.refunded", charge, event_id))
        b.unannounced = False

    def _note_event(self, b: BookingModel, event_type: str, obj: Json) -> str:
        event_id = f"evt_{uuid.uuid4().hex[:24]}"
        self.events.append((b, event_type, event_id, obj))
        return event_id

    async def _deliver(self, event_type: str, obj: Json, event_id: str) -> None:
        body, headers = signed_event(event_type, obj, event_id)
        response = await self.servers.call(
            "POST", "/v1/webhooks/stripe", content=body, headers=headers
        )
        assert response.status_code == 200, response.text

    def _settle(self) -> None:
        """Wait until every workflow is at rest, then read each booking into the model."""
        ids = [b.id for b in self.bookings]
        sessions = [s.id for s in self.sessions.values() if s.cancelled]
        lists = sorted({e.session.id for e in self.entries})
        self.run(self.servers.at_rest(ids, sessions, lists, self.time_changes))
        self.run(self._read_all())

    async def _read_all(self) -> None:
        await asyncio.gather(
            *(self._read(b) for b in self.bookings), *(self._read_entry(e) for e in self.entries)
        )

    async def _read(self, b: BookingModel) -> None:
        api = await self.servers.booking(b.id)
        b.status = BookingStatus(api["status"])
        b.labels, b.total, b.recorded = api["seats"], api["amount_total"], api["amount_refunded"]
        if b.claims:  # localstripe lists refunds of a charge only
            b.at_stripe, b.refund_intents = {}, {}
            for intent_id in b.intents:
                for refund_id, (amount, whose) in (
                    await self.servers.stripe_refunds(intent_id)
                ).items():
                    if b.owns(whose):
                        b.at_stripe[refund_id] = amount
                        b.refund_intents[refund_id] = intent_id

    def _states(self) -> dict[str, tuple[Any, ...]]:
        return {b.id: b.state for b in self.bookings}

    def _unchanged(
        self,
        before: dict[str, tuple[Any, ...]],
        *,
        but: BookingModel | None = None,
        but_ids: set[str] = frozenset(),  # type: ignore[assignment]
        but_session: SessionModel | None = None,
    ) -> None:
        """Bookings the step did not touch are as they were (the ones it made aside)."""
        for b in self.bookings:
            if b is but or b.id in but_ids or b.session is but_session or b.id not in before:
                continue
            assert b.state == before[b.id], f"booking {b.id} changed: {before[b.id]} -> {b.state}"

    @staticmethod
    def _copy(b: BookingModel) -> BookingModel:
        """The booking as it is (of the same session)."""
        return copy.deepcopy(b, {id(b.session): b.session})


async def _at_once(*calls: Coroutine[Any, Any, T]) -> list[T]:
    return list(await asyncio.gather(*calls))


@pytest.mark.long
async def test_any_sequence_of_money_operations_keeps_the_books_equal_to_stripe(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: Db,
    temporal: Client,
    sendgrid: FakeSendGrid,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    openapi = (await api.get("/openapi.json")).json()
    MoneyPaths.servers = Servers(
        asyncio.get_running_loop(),
        api,
        stripe_client,
        db,
        temporal,
        Documented(openapi),
        sendgrid,
        settings,
    )
    Tally.sequences = Tally.steps = 0
    Tally.rules.clear()
    Tally.outcomes.clear()
    config = hypothesis.settings(
        max_examples=SEQUENCES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    violations = 0
    try:
        await in_own_thread(run_state_machine_as_test, MoneyPaths, settings=config)
    except (AssertionError, ExceptionGroup, FlakyFailure) as err:
        violations = len(err.exceptions) if isinstance(err, ExceptionGroup) else 1
        raise
    finally:
        with capsys.disabled():  # shown without -s, for RELIABILITY.md to quote
            print(
                f"\nmoney paths: {Tally.sequences} sequences, {Tally.steps} steps, "
                f"{violations} violations"
            )
            for name, counts in (("rules run", Tally.rules), ("outcomes", Tally.outcomes)):
                print(f"{name}: " + ", ".join(f"{n} {r}" for r, n in counts.most_common()))
