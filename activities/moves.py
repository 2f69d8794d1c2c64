"""A booking moving to another session, each step one transaction safe to run again: the
target's places held first (the same reservation path as a booking: never oversold), then the
move settled (the target's places sold and the source's freed together, so exactly one session
owns each place at every moment), or the target's hold given back. A partial move settles as a
split: the places moved become a booking of their own (`settle_split`)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.reservations import hold_any
from activities.waiting_list_signals import WaitingListSignals
from activities.webhook_signals import DeliveryStarter
from core import booking_rules as rules
from core import pricing
from core.db import transaction
from core.enums import BookingStatus, SeatState, SessionStatus, WebhookEventType
from core.errors import (
    BookingNotChangeable,
    InvalidRequest,
    SeatsUnavailable,
    SessionNotBookable,
    SessionNotFound,
)
from core.refund_policy import tiers_of
from messages.booking import (
    Attendee,
    BookingRequest,
    HoldMove,
    Reservation,
    SettleMove,
    SettleSplit,
    SplitSettled,
)
from models.tables import Booking, Organisation, Seat, Session
from store.booking_payments import claim_difference, hand_over, mark_abandoned, mark_paid
from store.sequences import database_now, next_reference
from store.webhook_events import publish_booking_event


@dataclass
class MoveSettled:
    """Which move of the booking this was (1, 2, ...): its email and calendar event's key."""

    move_number: int


class MoveActivities:
    """`webhooks` and `waiting_lists` as `InventoryActivities` takes them."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks: DeliveryStarter | None = None,
        waiting_lists: WaitingListSignals | None = None,
    ):
        self._sessionmaker = sessionmaker
        self._webhooks = webhooks
        self._waiting_lists = waiting_lists

    @activity.defn(name="hold_move_places")
    async def hold(self, request: HoldMove) -> Reservation:
        """Hold the places of the session the booking moves to, priced there; the business
        error that refuses the move, nothing held. Run again, the same places."""
        key = uuid.UUID(request.booking_id)
        async with transaction(self._sessionmaker) as db:
            booking = await db.get(Booking, key, with_for_update=True)
            if booking is None or booking.status != BookingStatus.CONFIRMED:
                raise BookingNotChangeable(f"booking {request.booking_id} is not confirmed")
            source = await db.get_one(Session, booking.session_id)
            target, now = await _target(db, request.session_id, source)
            held = await _held_for(db, key, target.id)
            if len(held) != request.quantity:
                _check_movable(source, target, now)
                held = await hold_any(db, target, key, request.quantity)
            quote = pricing.quote(
                target.price_amount,
                request.quantity,
                pricing.GroupDiscount(target.discount_min_quantity, target.discount_basis_points),
            )
            return Reservation(
                booking_id=request.booking_id,
                session_id=str(target.id),
                seat_labels=held,
                unit_amount=target.price_amount,
                amount_subtotal=quote.subtotal,
                discount=quote.discount,
                amount_total=quote.total,
                currency=target.currency,
                hold_expires_at=now + timedelta(seconds=target.hold_seconds),
                session_starts_at=target.starts_at,
                session_ends_at=target.ends_at,
                request_fingerprint=booking.request_fingerprint,
                refund_policy=tiers_of(target.refund_policy),
                session_change=target.calendar_sequence,
            )

    @activity.defn(name="settle_move")
    async def settle(self, request: SettleMove) -> MoveSettled:
        """Sell the places held in the target and free the source's, the booking now of the
        target at its price, with its `booking.moved` event; refused (nothing changed) when
        either session was cancelled meanwhile or the hold is gone. Run again, the same."""
        key = uuid.UUID(request.booking_id)
        to = request.to
        async with transaction(self._sessionmaker) as db:
            booking = await db.get(Booking, key, with_for_update=True)
            if booking is None:
                raise InvalidRequest(f"booking {request.booking_id} does not exist")
            if str(booking.session_id) == to.session_id:  # settled by an earlier attempt:
                settled = MoveSettled(booking.moves)  # its wake-ups sent again
            else:
                settled = await _write_move(db, booking, request)
        await self._after(key, uuid.UUID(request.from_session_id))
        return settled

    @activity.defn(name="settle_split")
    async def settle_split(self, request: SettleSplit) -> SplitSettled:
        """A partial move settled in one transaction: the places held in the target sold to a
        new CONFIRMED booking (its own reference; customer, attendees and answers of the places
        moved; `split_from` the first), the first booking's moved places freed and the rest
        repriced, the claims handed over, and the events `booking.moved` (the new booking) and
        `booking.updated` (the first); refused (nothing changed) as `settle` is. Run again,
        the same."""
        key, new_key = uuid.UUID(request.booking_id), uuid.UUID(request.new_booking_id)
        async with transaction(self._sessionmaker) as db:
            booking = await db.get(Booking, key, with_for_update=True)
            if booking is None:
                raise InvalidRequest(f"booking {request.booking_id} does not exist")
            split = await db.get(Booking, new_key)
            if split is not None:  # settled by an earlier attempt: its wake-ups sent again
                settled = _split_settled(split)
            else:
                settled = await _write_split(db, booking, request)
        if self._webhooks is not None:
            await self._webhooks.nudge_stream(new_key)
        await self._after(key, uuid.UUID(request.from_session_id))
        return settled

    @activity.defn(name="release_move_places")
    async def release(self, request: HoldMove) -> int:
        """Give back the places held for a move that will not happen (its difference's
        intent, if any, marked abandoned); how many."""
        key, target = uuid.UUID(request.booking_id), uuid.UUID(request.session_id)
        async with transaction(self._sessionmaker) as db:
            if request.payment_intent_id is not None:
                await mark_abandoned(db, request.payment_intent_id)
            freed = await db.scalars(
                update(Seat)
                .where(
                    Seat.booking_id == key, Seat.session_id == target, Seat.state == SeatState.HELD
                )
                .values(state=SeatState.FREE, booking_id=None)
                .returning(Seat.id)
            )
            released = len(freed.all())
        if self._waiting_lists is not None:
            await self._waiting_lists.places_came_back(key, target)
        return released

    async def _after(self, booking_id: uuid.UUID, source_id: uuid.UUID) -> None:
        """After the commit: the event's delivery, and the source's waiting list."""
        if self._webhooks is not None:
            await self._webhooks.nudge_stream(booking_id)
        if self._waiting_lists is not None:
            await self._waiting_lists.places_came_back(booking_id, source_id)


async def _sell_held(db: AsyncSession, booking: Booking, to: Reservation, owner: uuid.UUID) -> None:
    """The places `to` holds for `booking` in the target sold to `owner` (the booking, or the
    one split off); refused when either session was cancelled meanwhile or the hold is gone.

    Under a share lock of both sessions' rows: a cancellation (`stop_sales`) commits wholly
    before or after, and names the booking in the session it is then in."""
    statuses = dict(
        (
            await db.execute(
                select(Session.id, Session.status)
                .where(Session.id.in_([booking.session_id, uuid.UUID(to.session_id)]))
                .with_for_update(read=True)
            )
        ).all()
    )
    if any(status != SessionStatus.SCHEDULED for status in statuses.values()):
        raise SessionNotBookable("a session of the move was cancelled meanwhile")
    sold = await db.scalars(
        update(Seat)
        .where(
            Seat.booking_id == booking.id,
            Seat.session_id == uuid.UUID(to.session_id),
            Seat.state == SeatState.HELD,
        )
        .values(state=SeatState.SOLD, booking_id=owner)
        .returning(Seat.label)
    )
    if sorted(sold) != sorted(to.seat_labels):
        raise SeatsUnavailable(f"the places held for the move {to.seat_labels} are gone")


async def _split_off(db: AsyncSession, booking: Booking, request: SettleSplit) -> Booking:
    """The new booking of a partial move's places, CONFIRMED with its own reference, written
    (flushed) before its places are sold to it."""
    to, now = request.to, await database_now(db)
    session = await db.get_one(Session, uuid.UUID(to.session_id))
    organisation = await db.get_one(Organisation, session.organisation_id)
    tickets = booking.ticket_seat_labels or booking.seat_labels
    # Place i of the first booking is its ticket i: the places moved, in its order.
    places = [i for i, label in enumerate(tickets) if label in request.moved]
    renumbered = {old: new for new, old in enumerate(places)}
    split = Booking(
        id=uuid.UUID(request.new_booking_id),
        reference=await next_reference(db, organisation, now.year),
        session_id=session.id,
        customer_name=booking.customer_name,
        customer_email=booking.customer_email,
        attendees=[booking.attendees[i] for i in places if i < len(booking.attendees)],
        answers=[
            {**answer, "attendee": renumbered[answer["attendee"]]}
            for answer in booking.answers or []
            if answer.get("attendee") is None or answer["attendee"] in renumbered
        ],
        consents=list(booking.consents or []),
        quantity=len(to.seat_labels),
        seat_labels=list(to.seat_labels),
        ticket_seat_labels=list(to.seat_labels),
        amount_subtotal=to.amount_subtotal,
        discount=to.discount,
        amount_total=to.amount_total,
        currency=booking.currency,
        status=BookingStatus.CONFIRMED,
        hold_expires_at=to.hold_expires_at,
        request_fingerprint=booking.request_fingerprint,
        confirmed_at=now,
        amount_paid=sum(claim.amount for claim in request.handed) + request.paid,
        stripe_account_id=booking.stripe_account_id,
        split_from=booking.id,
    )
    db.add(split)
    await db.flush()
    return split


def _split_settled(split: Booking) -> SplitSettled:
    assert split.reference is not None and split.confirmed_at is not None
    request = BookingRequest(
        booking_id=str(split.id),
        session_id=str(split.session_id),
        customer_name=split.customer_name,
        customer_email=split.customer_email,
        quantity=split.quantity,
        seat_labels=list(split.seat_labels),
        attendees=[Attendee(**attendee) for attendee in split.attendees],
        request_fingerprint=split.request_fingerprint,
    )
    return SplitSettled(request, split.reference, split.confirmed_at)


async def _write_move(db: AsyncSession, booking: Booking, request: SettleMove) -> MoveSettled:
    """`settle`'s writes, in its transaction."""
    key, to = booking.id, request.to
    await _sell_held(db, booking, to, key)
    await db.execute(
        update(Seat)
        .where(Seat.booking_id == key, Seat.session_id == booking.session_id)
        .values(state=SeatState.FREE, booking_id=None)
    )
    booking.session_id = uuid.UUID(to.session_id)
    booking.seat_labels = list(to.seat_labels)
    booking.ticket_seat_labels = list(to.seat_labels)
    booking.quantity = len(to.seat_labels)
    booking.amount_subtotal = to.amount_subtotal
    booking.discount = to.discount
    booking.amount_total = to.amount_total
    if request.payment_intent_id is not None:  # a dearer move: its difference paid
        booking.amount_paid = booking.paid + request.paid
        await mark_paid(db, request.payment_intent_id)
    booking.moves += 1
    await db.flush()
    await publish_booking_event(
        db, key, WebhookEventType.BOOKING_MOVED, dedup_key=f"moved-{booking.moves}"
    )
    return MoveSettled(booking.moves)


async def _write_split(db: AsyncSession, booking: Booking, request: SettleSplit) -> SplitSettled:
    """`settle_split`'s writes, in its transaction."""
    key, new_key = booking.id, uuid.UUID(request.new_booking_id)
    split = await _split_off(db, booking, request)
    await _sell_held(db, booking, request.to, new_key)
    await db.execute(
        update(Seat)
        .where(
            Seat.booking_id == key,
            Seat.session_id == booking.session_id,
            Seat.label.in_(request.moved),
        )
        .values(state=SeatState.FREE, booking_id=None)
    )
    kept = request.kept
    booking.seat_labels = list(kept.seat_labels)
    booking.quantity = len(kept.seat_labels)
    booking.amount_subtotal = kept.amount_subtotal
    booking.discount = kept.discount
    booking.amount_total = kept.amount_total
    booking.amount_paid = booking.paid - sum(claim.amount for claim in request.handed)
    handed = [(claim.payment_intent_id, claim.amount) for claim in request.handed]
    await hand_over(db, booking, split, handed)
    if request.payment_intent_id is not None:  # a dearer move: its difference paid
        await claim_difference(db, request.payment_intent_id, split)
    await db.flush()
    await publish_booking_event(
        db, new_key, WebhookEventType.BOOKING_MOVED, dedup_key="moved-split"
    )
    await publish_booking_event(
        db, key, WebhookEventType.BOOKING_UPDATED, dedup_key=f"split-{new_key}"
    )
    return _split_settled(split)


async def _target(db: AsyncSession, session_id: str, source: Session) -> tuple[Session, datetime]:
    """The session moved to, its row locked as a reservation locks it; another
    organisation's is not found."""
    try:
        target_id = uuid.UUID(session_id)
    except ValueError:
        raise SessionNotFound(f"session {session_id} does not exist") from None
    found = (
        await db.execute(
            select(Session, func.now())
            .where(Session.id == target_id, Session.organisation_id == source.organisation_id)
            .with_for_update(key_share=True)
        )
    ).first()
    if found is None:
        raise SessionNotFound(f"session {session_id} does not exist")
    if found[0].id == source.id:
        raise InvalidRequest("the booking is in this session already")
    return found[0], found[1]


def _check_movable(source: Session, target: Session, now: datetime) -> None:
    """A target that sells now, in the booking's currency, before the source's cutoff."""
    if target.status != SessionStatus.SCHEDULED or rules.started(target.starts_at, now):
        raise SessionNotBookable(f"session {target.id} is {target.status} or started", available=0)
    if target.currency != source.currency:
        raise SessionNotBookable(f"session {target.id} sells in {target.currency}")
    rules.check_move_cutoff(source.starts_at, source.move_cutoff_hours, now)


async def _held_for(db: AsyncSession, booking_id: uuid.UUID, session_id: uuid.UUID) -> list[str]:
    """The places an earlier attempt held in the target, in order."""
    rows = await db.scalars(
        select(Seat.label)
        .where(
            Seat.booking_id == booking_id,
            Seat.session_id == session_id,
            Seat.state == SeatState.HELD,
        )
        .order_by(Seat.position)
    )
    return list(rows)
