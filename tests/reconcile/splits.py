"""A partial move's split written by hand, as the contract (migration 0023) says the move's
settle writes it: booking C for one of P's places in another session, paid with its share of
P's payment (a claim on P's intent handed over, `transferred_from` P), P repriced and its claim
shrunk by as much. No workflow runs for C: what reconcile says of that (its places and its open
status without a workflow) is `WITHOUT_WORKFLOW`'s, and nothing else."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reconcile.consistency import Rule
from tests.helpers.consistency import World, at_rest, confirmed
from tests.reconcile.breaking import record_refund_by_hand, sql

Db = async_sessionmaker[AsyncSession]
Found = set[tuple[Rule, str]]
Stripe = stripe.StripeClient


@dataclass(frozen=True)
class Split:
    p: str  # the first booking, paid through its own intent
    c: str  # the booking split off, whose money is a claim on P's intent
    intent: str  # P's intent, which pays for both
    share: int  # what C claims of it
    session_ids: list[str]

    def booking(self, which: str) -> dict[str, Any]:
        return {"id": getattr(self, which)}


def without_workflow(split: Split) -> Found:
    """What a split written by hand is found with however right its money: C has no workflow."""
    return {(Rule.ORPHAN_WORKFLOW_CLOSED, split.c), (Rule.OPEN_WITHOUT_WORKFLOW, split.c)}


async def split_by_hand(db: Db, p: dict[str, Any], target_session: str) -> Split:
    """P (two places or more, paid, no discount) hands its last place and that place's price
    over to a new booking C in `target_session`."""
    c = str(uuid.uuid4())
    label = p["seats"][-1]
    share = p["amount_total"] // p["quantity"]
    intent = p["payment"]["payment_intent_id"]
    async with db() as session:
        target_label = await session.scalar(
            text(
                "SELECT label FROM seats WHERE session_id = :s AND state = 'free'"
                " ORDER BY position LIMIT 1"
            ),
            {"s": target_session},
        )
    await sql(
        db,
        "INSERT INTO bookings SELECT (jsonb_populate_record(NULL::bookings, to_jsonb(b)"
        " || jsonb_build_object('id', CAST(:c AS text), 'session_id', CAST(:target AS text),"
        " 'quantity', 1, 'seat_labels', jsonb_build_array(CAST(:tl AS text)),"
        " 'ticket_seat_labels', jsonb_build_array(CAST(:tl AS text)),"
        " 'attendees', CASE WHEN jsonb_array_length(b.attendees) > 0"
        "   THEN jsonb_build_array(b.attendees -> -1) ELSE '[]'::jsonb END,"
        " 'amount_subtotal', CAST(:share AS int), 'discount', 0,"
        " 'amount_total', CAST(:share AS int),"
        " 'amount_paid', CAST(:share AS int), 'amount_refunded', 0, 'payment_intent_id', NULL,"
        " 'reference', b.reference || '-S', 'split_from', b.id, 'moves', 0,"
        " 'created_at', now(), 'updated_at', now(), 'confirmed_at', now()))).*"
        " FROM bookings b WHERE b.id = :p",
        c=c,
        target=target_session,
        tl=target_label,
        share=share,
        p=p["id"],
    )
    await sql(
        db,
        "UPDATE seats SET state = 'sold', booking_id = :c WHERE session_id = :t AND label = :tl",
        c=c,
        t=target_session,
        tl=target_label,
    )
    await sql(
        db,
        "UPDATE seats SET state = 'free', booking_id = NULL WHERE booking_id = :p AND label = :l",
        p=p["id"],
        l=label,
    )
    await sql(
        db,
        "UPDATE bookings SET quantity = quantity - 1,"
        " seat_labels = seat_labels - CAST(:l AS text),"
        " ticket_seat_labels = ticket_seat_labels - CAST(:l AS text),"
        " amount_subtotal = amount_subtotal - :s, amount_total = amount_total - :s,"
        " amount_paid = amount_paid - :s WHERE id = :p",
        p=p["id"],
        l=label,
        s=share,
    )
    await sql(
        db,
        "UPDATE booking_payments SET amount = amount - :s WHERE booking_id = :p"
        " AND payment_intent_id = :i",
        p=p["id"],
        i=intent,
        s=share,
    )
    await sql(
        db,
        "INSERT INTO booking_payments (payment_intent_id, booking_id, session_id, amount,"
        " currency, paid_at, transferred_from) SELECT :i, CAST(:c AS uuid), CAST(:t AS uuid),"
        " CAST(:s AS int), currency, now(), id"
        " FROM bookings WHERE id = :p",
        i=intent,
        c=c,
        t=target_session,
        s=share,
        p=p["id"],
    )
    return Split(p["id"], c, intent, share, [p["session_id"], target_session])


async def a_split(
    api: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    db: Db,
    new_session: Callable[..., Awaitable[str]],
) -> Split:
    """P paid for two places; one of them moved to another session as booking C."""
    source = await new_session(capacity=4)
    target = await new_session(capacity=4)
    p = await confirmed(api, stripe_client, source, 2)
    await at_rest(db, World([source], {"p": p}))
    return await split_by_hand(db, p, target)


async def claims_short_of_what_was_received(db: Db, stripe_client: Stripe, split: Split) -> Found:
    """C's claim (and its price and what it says it paid, so that C agrees with itself) lost
    100: the claims on the intent add up to 100 less than Stripe received."""
    await sql(
        db,
        "UPDATE booking_payments SET amount = amount - 100 WHERE booking_id = :c",
        c=split.c,
    )
    await sql(
        db,
        "UPDATE bookings SET amount_paid = amount_paid - 100, amount_subtotal ="
        " amount_subtotal - 100, amount_total = amount_total - 100 WHERE id = :c",
        c=split.c,
    )
    return {(Rule.CLAIMS_DIFFER, split.intent)}


async def c_refunded_beyond_its_claim(db: Db, stripe_client: Stripe, split: Split) -> Found:
    """A refund naming C of more than C claims (the intent itself keeps some: only C is
    over-refunded), recorded on C: C gives back more than it was paid."""
    refund = await refund_naming(stripe_client, split.intent, split.share + 100, split.c)
    await record_refund_by_hand(db, split.c, refund, split.share + 100)
    return {(Rule.OVER_REFUNDED, split.c), (Rule.REFUNDED_BEYOND_PAID, split.c)}


async def p_noting_c_refund(db: Db, stripe_client: Stripe, split: Split) -> Found:
    """C's refund recorded on P: P's books hold a refund of C's, and C's miss it."""
    refund = await refund_naming(stripe_client, split.intent, 500, split.c)
    await record_refund_by_hand(db, split.p, refund, 500)
    return {(Rule.REFUNDS_DIFFER, split.p), (Rule.REFUNDS_DIFFER, split.c)}


async def c_with_a_receipt_of_its_own(db: Db, stripe_client: Stripe, split: Split) -> Found:
    """C paid nothing itself: what was handed over to it is on P's receipt."""
    await sql(
        db,
        "INSERT INTO receipts (booking_id, kind, number, total, currency, issued_at, pdf)"
        " VALUES (:c, 'receipt', :number, 100, 'GBP', now(), ''::bytea)",
        c=split.c,
        number=f"R-TEST-{split.c[:12]}",
    )
    return {(Rule.RECEIPT_COUNT, split.c)}


async def c_confirmed_on_nothing_paid(db: Db, stripe_client: Stripe, split: Split) -> Found:
    """C's claim moved to an intent Stripe never saw: P's intent is claimed short too."""
    await sql(
        db,
        "UPDATE booking_payments SET payment_intent_id = 'pi_never_at_stripe'"
        " WHERE booking_id = :c",
        c=split.c,
    )
    return {(Rule.CONFIRMED_UNPAID, split.c), (Rule.CLAIMS_DIFFER, split.intent)}


Break = Callable[[Db, stripe.StripeClient, Split], Awaitable[Found]]
BREAKS: list[Break] = [
    claims_short_of_what_was_received,
    c_refunded_beyond_its_claim,
    p_noting_c_refund,
    c_with_a_receipt_of_its_own,
    c_confirmed_on_nothing_paid,
]


async def refund_naming(
    stripe_client: stripe.StripeClient, intent_id: str, amount: int, booking_id: str
) -> str:
    """A refund as the engine asks for one: its metadata names the booking it is for."""
    params: Any = {"payment_intent": intent_id, "amount": amount}
    params["metadata"] = {"booking_id": booking_id}
    refund = await stripe_client.v1.refunds.create_async(params)
    return str(refund.id)
