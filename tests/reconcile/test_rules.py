"""Every rule of the checker, broken on purpose: the check reports exactly that finding.

One row per way of breaking a rule. Most breaks cause one finding alone; where a rule cannot
be broken without another one (extra place rows are what over-capacity needs; a negative
remainder needs a total that disagrees with something), the row names the exact pair.

Over 350 lines: one table of every rule broken on purpose, read together; the set-up of
its rows is in tests/helpers/consistency.py and tests/reconcile/breaking.py."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from reconcile.consistency import Rule
from tests.api.conftest import ADMIN
from tests.conftest import SessionFactory
from tests.helpers.api_bookings import session_with
from tests.helpers.consistency import (
    Check,
    World,
    at_rest,
    cancelled,
    confirmed,
    expired,
    pending,
    settled,
)
from tests.reconcile.breaking import (
    add_email,
    found,
    free_places,
    record_refund_by_hand,
    refund_at_stripe,
    sql,
    stray_payment,
    terminate,
)
from tests.reconcile.splits import (
    a_split,
    claims_short_of_what_was_received,
    without_workflow,
)


@dataclass
class Tools:
    api: httpx.AsyncClient
    stripe: stripe.StripeClient
    db: async_sessionmaker[AsyncSession]
    temporal: Client
    new_session: SessionFactory

    async def at_rest(self, session_ids: list[str], **bookings: dict[str, Any]) -> World:
        world = World(session_ids, bookings)
        await at_rest(self.db, world)
        return world

    async def confirmed(self, quantity: int = 1) -> tuple[World, dict[str, Any]]:
        """One paid booking at rest, in a session of its own."""
        session_id = await self.new_session(capacity=4)
        booking = await confirmed(self.api, self.stripe, session_id, quantity)
        return await self.at_rest([session_id], booking=booking), booking

    async def pending(self) -> tuple[World, dict[str, Any]]:
        session_id = await self.new_session(capacity=4)
        booking = await pending(self.api, session_id, 2)
        return await self.at_rest([session_id], booking=booking), booking

    async def expired(self) -> tuple[World, dict[str, Any]]:
        session_id, booking = await expired(self.api, self.new_session)
        return await self.at_rest([session_id], booking=booking), booking

    async def cancelled_for_half(self) -> tuple[World, dict[str, Any]]:
        """Two places paid, then cancelled by the customer under a policy giving half back."""
        half_back = await session_with(
            self.api, datetime.now(UTC) + timedelta(days=3), [{"days_before": 1, "percent": 50}]
        )
        booking = await confirmed(self.api, self.stripe, half_back, 2)
        response = await self.api.post(f"/v1/bookings/{booking['id']}/cancel")
        assert response.json()["status"] == "CANCELLED", response.text
        return await self.at_rest([half_back], booking=booking), booking

    async def sql(self, statement: str, booking: dict[str, Any], **params: object) -> None:
        await sql(self.db, statement, id=booking["id"], **params)


@pytest.fixture
def tools(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    new_session: SessionFactory,
) -> Tools:
    return Tools(api, stripe_client, db, temporal, new_session)


@dataclass
class Broken:
    world: World
    expected: set[tuple[Rule, str]]  # (kind, subject)


Break = Callable[[Tools], Awaitable[Broken]]


# ---- I1 and I3: places ----------------------------------------------------------------------


async def extra_place_row(t: Tools) -> Broken:
    session_id = await t.new_session(capacity=2)
    await sql(
        t.db,
        "INSERT INTO seats (session_id, label, position, state)"
        " VALUES (:session, 'extra', 99, 'free')",
        session=session_id,
    )
    return Broken(World([session_id], {}), {(Rule.SEAT_ROWS, session_id)})


async def capacity_below_places_sold(t: Tools) -> Broken:
    """Places are rows: more taken than the capacity means more rows than it (seat-rows)."""
    world, _ = await t.confirmed(quantity=2)
    session_id = world.session_ids[0]
    await sql(t.db, "UPDATE sessions SET capacity = 1 WHERE id = :id", id=session_id)
    return Broken(world, {(Rule.SEAT_ROWS, session_id), (Rule.OVER_CAPACITY, session_id)})


async def ended_workflow_keeps_places(t: Tools) -> Broken:
    world, booking = await t.pending()
    await terminate(t.temporal, booking)
    await t.sql("UPDATE bookings SET status = 'EXPIRED' WHERE id = :id", booking)
    return Broken(world, {(Rule.ORPHAN_WORKFLOW_CLOSED, booking["id"])})


async def closed_booking_keeps_places(t: Tools) -> Broken:
    """The mirror says CANCELLED, so the live workflow (CONFIRMED) differs too."""
    world, booking = await t.confirmed()
    await t.sql("UPDATE bookings SET status = 'CANCELLED' WHERE id = :id", booking)
    return Broken(
        world,
        {(Rule.ORPHAN_BOOKING_CLOSED, booking["id"]), (Rule.MIRROR_DIFFERS, booking["id"])},
    )


async def hold_long_past_its_end(t: Tools) -> Broken:
    """The workflow's timer is its own; the mirror says the hold ended ten minutes ago."""
    world, booking = await t.pending()
    await t.sql(
        "UPDATE bookings SET hold_expires_at = now() - interval '10 minutes' WHERE id = :id",
        booking,
    )
    return Broken(world, {(Rule.ORPHAN_HOLD_OVERDUE, booking["id"])})


async def place_of_another_session(t: Tools) -> Broken:
    """Its place moved to the same label in another session."""
    world, booking = await t.confirmed()
    other = await t.new_session(capacity=4)
    label = booking["seats"][0]
    await free_places(t.db, booking)
    await sql(
        t.db,
        "UPDATE seats SET state = 'sold', booking_id = :id WHERE session_id = :other"
        " AND label = :label",
        id=booking["id"],
        other=other,
        label=label,
    )
    return Broken(
        World([*world.session_ids, other], world.bookings), {(Rule.WRONG_SESSION, booking["id"])}
    )


async def confirmed_with_a_place_less(t: Tools) -> Broken:
    world, booking = await t.confirmed(quantity=2)
    await sql(
        t.db,
        "UPDATE seats SET state = 'free', booking_id = NULL WHERE booking_id = :id"
        " AND label = :label",
        id=booking["id"],
        label=booking["seats"][0],
    )
    return Broken(world, {(Rule.PLACES_MISMATCH, booking["id"])})


async def pending_owns_sold_places(t: Tools) -> Broken:
    world, booking = await t.pending()
    await t.sql("UPDATE seats SET state = 'sold' WHERE booking_id = :id", booking)
    return Broken(world, {(Rule.SOLD_UNPAID, booking["id"])})


async def _offer(t: Tools, state: str) -> tuple[str, str]:
    """A session of 2 with an entry in `state` whose first place is held for it (and named by
    its offer if it is OFFERED): (session id, entry id)."""
    session_id, entry_id = await _entry(t, state)
    await sql(
        t.db,
        "UPDATE seats SET state = 'offered', waiting_entry_id = :id"
        " WHERE session_id = :session AND position = 0",
        id=entry_id,
        session=session_id,
    )
    if state == "offered":
        await sql(
            t.db,
            "UPDATE waiting_list_entries SET offer_seat_labels = (SELECT jsonb_agg(label)"
            " FROM seats WHERE waiting_entry_id = :id) WHERE id = :id",
            id=entry_id,
        )
    return session_id, entry_id


async def _entry(t: Tools, state: str) -> tuple[str, str]:
    """A session of 2 with an entry in `state`, changed an hour ago: (session id, entry id)."""
    session_id = await t.new_session(capacity=2)
    entry_id = str(uuid.uuid4())
    offer = "now() + interval '1 hour', repeat('0', 64)" if state == "offered" else "NULL, NULL"
    await sql(
        t.db,
        "INSERT INTO waiting_list_entries (id, session_id, customer_name, customer_email,"
        " customer_email_normalised, quantity, seat_labels, attendees, state,"
        " offer_seat_labels, offer_expires_at, offer_token_hash, request_fingerprint,"
        " updated_at) VALUES (:id, :session, 'W', 'w@example.com', 'w@example.com', 1,"
        f" '[]', '[]', :state, '[]', {offer}, 'f',"
        " now() - interval '1 hour')",
        id=entry_id,
        session=session_id,
        state=state,
    )
    return session_id, entry_id


async def place_held_for_an_entry_that_waits(t: Tools) -> Broken:
    session_id, entry_id = await _offer(t, "waiting")
    return Broken(World([session_id], {}), {(Rule.OFFER_ORPHAN, entry_id)})


async def offer_kept_after_the_list_closed(t: Tools) -> Broken:
    session_id, entry_id = await _offer(t, "offered")
    await sql(
        t.db, "UPDATE sessions SET waiting_list_status = 'closed' WHERE id = :id", id=session_id
    )
    return Broken(World([session_id], {}), {(Rule.OFFER_SESSION_ENDED, entry_id)})


async def offer_long_past_its_deadline(t: Tools) -> Broken:
    """No list workflow lets it lapse (none runs for this session): it holds on."""
    session_id, entry_id = await _offer(t, "offered")
    await sql(
        t.db,
        "UPDATE waiting_list_entries SET offer_expires_at = now() - interval '1 hour'"
        " WHERE id = :id",
        id=entry_id,
    )
    return Broken(World([session_id], {}), {(Rule.OFFER_OVERDUE, entry_id)})


async def accepted_with_a_booking_that_is_gone(t: Tools) -> Broken:
    """Its booking's setup was discarded before such entries were put back on their list."""
    session_id, entry_id = await _entry(t, "accepted")
    await sql(
        t.db,
        "UPDATE waiting_list_entries SET booking_id = gen_random_uuid() WHERE id = :id",
        id=entry_id,
    )
    return Broken(World([session_id], {}), {(Rule.ACCEPTED_WITHOUT_BOOKING, entry_id)})


# ---- I2: money --------------------------------------------------------------------------------


async def payment_nobody_claims(t: Tools) -> Broken:
    world, booking = await t.expired()
    stray = await stray_payment(t.stripe, booking)
    return Broken(world, {(Rule.UNCLAIMED_PAYMENT, stray)})


async def refunded_twice_at_stripe(t: Tools) -> Broken:
    """localstripe does not check a refund against what remains (Stripe would refuse)."""
    world, booking = await t.expired()
    stray = await stray_payment(t.stripe, booking)
    await refund_at_stripe(t.stripe, stray)
    await refund_at_stripe(t.stripe, stray)
    return Broken(world, {(Rule.OVER_REFUNDED, stray)})


async def confirmed_on_an_intent_stripe_never_saw(t: Tools) -> Broken:
    """Its real payment refunded, so that nothing else is off."""
    world, booking = await t.confirmed()
    await refund_at_stripe(t.stripe, booking["payment"]["payment_intent_id"])
    await t.sql(
        "UPDATE bookings SET payment_intent_id = 'pi_never_at_stripe' WHERE id = :id", booking
    )
    await t.sql(  # its claim: a booking's money is its claims
        "UPDATE booking_payments SET payment_intent_id = 'pi_never_at_stripe'"
        " WHERE booking_id = :id",
        booking,
    )
    return Broken(world, {(Rule.CONFIRMED_UNPAID, booking["id"])})


async def says_more_paid_than_stripe_got(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await t.sql("UPDATE bookings SET amount_paid = amount_total + 100 WHERE id = :id", booking)
    return Broken(world, {(Rule.AMOUNT_MISMATCH, booking["id"])})


async def cancelled_booking_says_less_paid(t: Tools) -> Broken:
    """Checked for bookings confirmed once, whatever they are now (here cancelled at 50 %)."""
    world, booking = await t.cancelled_for_half()
    await t.sql("UPDATE bookings SET amount_paid = amount_total - 100 WHERE id = :id", booking)
    return Broken(world, {(Rule.AMOUNT_MISMATCH, booking["id"])})


async def split_claims_short(t: Tools) -> Broken:
    """A partial move's split whose claims lost 100 (tests/reconcile/test_shared_intents.py
    has the other ways of getting a split wrong); its C runs no workflow here."""
    split = await a_split(t.api, t.stripe, t.db, t.new_session)
    expected = await claims_short_of_what_was_received(t.db, t.stripe, split)
    return Broken(World(split.session_ids, {}), expected | without_workflow(split))


async def confirmed_but_refunded_in_full(t: Tools) -> Broken:
    """The refund written down as the workflow would, but the booking left CONFIRMED."""
    world, booking = await t.confirmed()
    refund = await refund_at_stripe(t.stripe, booking["payment"]["payment_intent_id"])
    await record_refund_by_hand(t.db, booking["id"], refund, booking["amount_total"])
    return Broken(world, {(Rule.CONFIRMED_REFUNDED, booking["id"])})


async def refunded_with_nothing_refunded(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await terminate(t.temporal, booking)
    await free_places(t.db, booking)
    await t.sql("UPDATE bookings SET status = 'REFUNDED' WHERE id = :id", booking)
    return Broken(world, {(Rule.REFUNDED_WITHOUT_REFUND, booking["id"])})


async def session_cancelled_after_a_policy_refund(t: Tools) -> Broken:
    """Issue 17 case 9 seen at rest: the session cancelled by its organiser, then a customer's
    cancel served by policy (half back). (One cancelled before the session keeps its half.)"""
    world, booking = await t.cancelled_for_half()
    await sql(
        t.db,
        "UPDATE sessions SET status = 'cancelled', cancelled_at = (SELECT closed_at"
        " - interval '1 second' FROM bookings WHERE id = :booking) WHERE id = :id",
        id=booking["session_id"],
        booking=booking["id"],
    )
    return Broken(world, {(Rule.SESSION_CANCELLED_KEPT, booking["id"])})


# ---- I4 and I8: documents and emails --------------------------------------------------------


async def receipt_deleted(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await t.sql("DELETE FROM receipts WHERE booking_id = :id", booking)
    return Broken(world, {(Rule.RECEIPT_COUNT, booking["id"])})


async def receipt_for_an_expired_booking(t: Tools) -> Broken:
    world, booking = await t.expired()
    await t.sql(
        "INSERT INTO receipts (booking_id, kind, number, total, currency, issued_at, pdf)"
        " VALUES (:id, 'receipt', :number, 7500, 'GBP', now(), ''::bytea)",
        booking,
        number=f"R-TEST-{booking['id'][:12]}",
    )
    return Broken(world, {(Rule.RECEIPT_UNCONFIRMED, booking["id"])})


async def credit_note_deleted(t: Tools) -> Broken:
    world, booking = await t.confirmed(quantity=2)
    response = await t.api.post(
        f"/v1/bookings/{booking['id']}/refunds", json={"amount": 500}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    await at_rest(t.db, world)
    await t.sql("DELETE FROM receipts WHERE booking_id = :id AND kind = 'credit_note'", booking)
    return Broken(world, {(Rule.CREDIT_NOTE_MISSING, booking["id"])})


async def confirmation_sent_twice(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await add_email(t.db, booking, "confirmation", "sent", key=f"again-{booking['id']}")
    return Broken(world, {(Rule.EMAIL_TWICE, booking["id"])})


async def email_sending_after_the_workflow_ended(t: Tools) -> Broken:
    session_id = await t.new_session(capacity=4)
    booking = await cancelled(t.api, session_id)
    world = await t.at_rest([session_id], booking=booking)
    await add_email(t.db, booking, "hold_expired", "sending")
    return Broken(world, {(Rule.EMAIL_STUCK, booking["id"])})


async def email_sending_past_its_bound(t: Tools) -> Broken:
    """The workflow still runs (CONFIRMED), but no email step retries for an hour."""
    world, booking = await t.confirmed()
    await add_email(t.db, booking, "reminder", "sending", age=timedelta(hours=1))
    return Broken(world, {(Rule.EMAIL_STUCK, booking["id"])})


async def email_failed(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await t.sql(
        "UPDATE notifications SET status = 'failed' WHERE booking_id = :id"
        " AND kind = 'confirmation'",
        booking,
    )
    return Broken(world, {(Rule.EMAIL_FAILED, booking["id"])})


# ---- I5: the mirror -------------------------------------------------------------------------


async def mirror_says_completed(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await t.sql("UPDATE bookings SET status = 'COMPLETED' WHERE id = :id", booking)
    return Broken(world, {(Rule.MIRROR_DIFFERS, booking["id"])})


async def pending_without_its_workflow(t: Tools) -> Broken:
    world, booking = await t.pending()
    await terminate(t.temporal, booking)
    await free_places(t.db, booking)
    return Broken(world, {(Rule.OPEN_WITHOUT_WORKFLOW, booking["id"])})


# ---- I7: the books equal Stripe -------------------------------------------------------------


async def refund_made_at_stripe_not_recorded(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await refund_at_stripe(t.stripe, booking["payment"]["payment_intent_id"], 100)
    return Broken(world, {(Rule.REFUNDS_DIFFER, booking["id"])})


async def refund_recorded_for_another_amount(t: Tools) -> Broken:
    world, booking = await t.confirmed(quantity=2)
    response = await t.api.post(
        f"/v1/bookings/{booking['id']}/refunds", json={"amount": 500}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    await at_rest(t.db, world)
    await t.sql("UPDATE booking_refunds SET amount = 400 WHERE booking_id = :id", booking)
    await t.sql("UPDATE bookings SET amount_refunded = 400 WHERE id = :id", booking)
    return Broken(world, {(Rule.REFUNDS_DIFFER, booking["id"])})


async def refunded_total_not_its_refunds(t: Tools) -> Broken:
    world, booking = await t.confirmed()
    await t.sql("UPDATE bookings SET amount_refunded = 100 WHERE id = :id", booking)
    return Broken(world, {(Rule.REFUNDED_TOTAL_DIFFERS, booking["id"])})


async def refunded_more_than_paid(t: Tools) -> Broken:
    """Its refunds agree with Stripe's, so its total disagrees with them."""
    world, booking = await t.confirmed()
    await t.sql(
        "UPDATE bookings SET amount_refunded = coalesce(amount_paid, amount_total) + 100"
        " WHERE id = :id",
        booking,
    )
    return Broken(
        world,
        {(Rule.REFUNDED_BEYOND_PAID, booking["id"]), (Rule.REFUNDED_TOTAL_DIFFERS, booking["id"])},
    )


async def places_kept_dearer_than_paid(t: Tools) -> Broken:
    """Issue 17 cases 1 and 2: places re-priced above what was paid for them."""
    world, booking = await t.confirmed(quantity=2)
    await t.sql(
        "UPDATE bookings SET amount_paid = amount_total, amount_subtotal = amount_subtotal + 100,"
        " amount_total = amount_total + 100 WHERE id = :id",
        booking,
    )
    return Broken(world, {(Rule.TOTAL_ABOVE_PAID, booking["id"])})


CASES: list[tuple[Rule, Break]] = [
    (Rule.SEAT_ROWS, extra_place_row),
    (Rule.OVER_CAPACITY, capacity_below_places_sold),
    (Rule.ORPHAN_WORKFLOW_CLOSED, ended_workflow_keeps_places),
    (Rule.ORPHAN_BOOKING_CLOSED, closed_booking_keeps_places),
    (Rule.ORPHAN_HOLD_OVERDUE, hold_long_past_its_end),
    (Rule.WRONG_SESSION, place_of_another_session),
    (Rule.PLACES_MISMATCH, confirmed_with_a_place_less),
    (Rule.SOLD_UNPAID, pending_owns_sold_places),
    (Rule.OFFER_ORPHAN, place_held_for_an_entry_that_waits),
    (Rule.OFFER_SESSION_ENDED, offer_kept_after_the_list_closed),
    (Rule.OFFER_OVERDUE, offer_long_past_its_deadline),
    (Rule.ACCEPTED_WITHOUT_BOOKING, accepted_with_a_booking_that_is_gone),
    (Rule.UNCLAIMED_PAYMENT, payment_nobody_claims),
    (Rule.OVER_REFUNDED, refunded_twice_at_stripe),
    (Rule.CONFIRMED_UNPAID, confirmed_on_an_intent_stripe_never_saw),
    (Rule.AMOUNT_MISMATCH, says_more_paid_than_stripe_got),
    (Rule.AMOUNT_MISMATCH, cancelled_booking_says_less_paid),
    (Rule.CLAIMS_DIFFER, split_claims_short),
    (Rule.CONFIRMED_REFUNDED, confirmed_but_refunded_in_full),
    (Rule.REFUNDED_WITHOUT_REFUND, refunded_with_nothing_refunded),
    (Rule.SESSION_CANCELLED_KEPT, session_cancelled_after_a_policy_refund),
    (Rule.RECEIPT_COUNT, receipt_deleted),
    (Rule.RECEIPT_UNCONFIRMED, receipt_for_an_expired_booking),
    (Rule.CREDIT_NOTE_MISSING, credit_note_deleted),
    (Rule.EMAIL_TWICE, confirmation_sent_twice),
    (Rule.EMAIL_STUCK, email_sending_after_the_workflow_ended),
    (Rule.EMAIL_STUCK, email_sending_past_its_bound),
    (Rule.EMAIL_FAILED, email_failed),
    (Rule.MIRROR_DIFFERS, mirror_says_completed),
    (Rule.OPEN_WITHOUT_WORKFLOW, pending_without_its_workflow),
    (Rule.REFUNDS_DIFFER, refund_made_at_stripe_not_recorded),
    (Rule.REFUNDS_DIFFER, refund_recorded_for_another_amount),
    (Rule.REFUNDED_TOTAL_DIFFERS, refunded_total_not_its_refunds),
    (Rule.REFUNDED_BEYOND_PAID, refunded_more_than_paid),
    (Rule.TOTAL_ABOVE_PAID, places_kept_dearer_than_paid),
]


def test_every_rule_has_a_case() -> None:
    assert {rule for rule, _ in CASES} == set(Rule)


@pytest.mark.parametrize(
    ("rule", "breaks"), CASES, ids=[f"{rule}:{breaks.__name__}" for rule, breaks in CASES]
)
async def test_a_rule_broken_on_purpose_is_found_exactly(
    rule: Rule, breaks: Break, tools: Tools, run_check: Check
) -> None:
    broken = await breaks(tools)
    assert rule in {kind for kind, _ in broken.expected}
    await settled()  # the edits changed rows (a booking's updated_at) too

    report = await run_check(broken.world, email_bound=timedelta(minutes=30))

    assert found(report) == broken.expected, report.violations
    assert all(v.invariant == v.rule.invariant for v in report.violations)


async def test_a_policy_cancel_before_the_session_was_cancelled_keeps_its_half(
    tools: Tools, run_check: Check
) -> None:
    """The customer cancelled (half back by policy), then the organiser cancelled the session:
    nothing was owed in full, and nothing is found, also once the row has changed since."""
    world, booking = await tools.cancelled_for_half()
    await sql(
        tools.db,
        "UPDATE sessions SET status = 'cancelled', cancelled_at = (SELECT closed_at"
        " + interval '1 second' FROM bookings WHERE id = :booking) WHERE id = :id",
        id=booking["session_id"],
        booking=booking["id"],
    )
    # A later change of the row (say, the customer's erasure) does not move when it closed.
    await sql(
        tools.db,
        "UPDATE bookings SET customer_name = customer_name || '.' WHERE id = :id",
        id=booking["id"],
    )
    await settled()

    report = await run_check(world, email_bound=timedelta(minutes=30))

    assert found(report) == set(), report.violations
