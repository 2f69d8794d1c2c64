"""Places and the booking rows they belong to: hold, sell, release, mirror transitions, each
activity one transaction (how a reservation takes its places: `activities.reservations`)."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.reservations import (
    BOOKINGS,
    check_shape,
    earlier_reservation,
    free_places,
    hold_any,
    hold_named,
    reservation_of,
    row_of,
    session_uuid,
    take_offer,
)
from activities.waiting_list_signals import WaitingListSignals
from activities.webhook_signals import DeliveryStarter
from core import pricing
from core.db import transaction
from core.enums import (
    OPEN_STATUSES,
    BookingStatus,
    RecordOutcome,
    SeatState,
    SessionStatus,
    WebhookEventType,
)
from core.errors import InvalidRequest, SeatsUnavailable, SessionNotBookable, SessionNotFound
from messages.booking import (
    BookingRequest,
    Confirmation,
    ReleaseSome,
    Repriced,
    Reservation,
    Transition,
)
from models.tables import Booking, BookingPayment, Organisation, Seat, Session, WebhookEvent
from store.booking_payments import MoveIntent, record_move_intent, record_own_intent
from store.sequences import database_now, next_reference
from store.waiting_list import wait_again
from store.webhook_events import STATUS_EVENTS, publish_booking_event


@dataclass
class ReleaseResult:
    released: int


class InventoryActivities:
    """Each method is one database transaction, safe to run again with the same input."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        webhooks: DeliveryStarter | None = None,
        waiting_lists: WaitingListSignals | None = None,
    ):
        """`webhooks` None: events stay in the outbox until something nudges their delivery;
        `waiting_lists` None: places given back wait for the list's next round."""
        self._sessionmaker = sessionmaker
        self._webhooks = webhooks
        self._waiting_lists = waiting_lists

    async def record_move_intent(self, intent: MoveIntent) -> None:
        """Not an activity of its own: `open_move_payment` writes the intent it made."""
        async with transaction(self._sessionmaker) as db:
            await record_move_intent(db, intent)

    @activity.defn(name="reserve_places")
    async def reserve(self, request: BookingRequest) -> Reservation:
        """Hold places and create the booking row, or raise a business error and change nothing.
        A waiting-list offer's booking then wakes the delivery of its `waitlist.accepted`."""
        reservation = await self._reserve(request)
        if request.waiting_entry_id:
            await self._nudge_webhooks(uuid.UUID(request.waiting_entry_id))
        return reservation

    async def _reserve(self, request: BookingRequest) -> Reservation:
        check_shape(request)
        booking_id = uuid.UUID(request.booking_id)
        async with transaction(self._sessionmaker) as db:
            existing = await db.get(Booking, booking_id, with_for_update=True)
            if existing is not None:
                earlier = await earlier_reservation(db, existing, request)
                if earlier is not None:
                    return earlier

            # Reservations for one session queue on its row: each sees every earlier hold.
            found = (
                await db.execute(
                    select(Session, func.now())
                    .where(Session.id == session_uuid(request))
                    .with_for_update(key_share=True)
                )
            ).first()
            if found is None:
                raise SessionNotFound(f"session {request.session_id} does not exist")
            session, now = found
            if session.status != SessionStatus.SCHEDULED or session.starts_at <= now:
                raise SessionNotBookable(f"session {session.id} is {session.status} or started")
            quote = pricing.quote(
                session.price_amount,
                request.quantity,
                pricing.GroupDiscount(session.discount_min_quantity, session.discount_basis_points),
            )
            booking = Booking(
                id=booking_id,
                session_id=session.id,
                customer_name=request.customer_name,
                customer_email=request.customer_email,
                attendees=[vars(a) for a in request.attendees],
                answers=[vars(a) for a in request.answers],
                consents=[c.stored() for c in request.consents],
                quantity=request.quantity,
                amount_subtotal=quote.subtotal,
                discount=quote.discount,
                amount_total=quote.total,
                currency=session.currency,
                status=BookingStatus.PENDING_PAYMENT,
                hold_expires_at=now + timedelta(seconds=session.hold_seconds),
                request_fingerprint=request.request_fingerprint,
            )
            await db.execute(insert(BOOKINGS).values(row_of(booking)))
            if request.waiting_entry_id:
                labels = await take_offer(db, session, booking_id, request)
            elif request.seat_labels:
                labels = await hold_named(db, session, booking_id, request.seat_labels)
            else:
                labels = await hold_any(db, session, booking_id, request.quantity)
            await db.execute(
                update(BOOKINGS).where(BOOKINGS.c.id == booking_id).values(seat_labels=labels)
            )
            booking.seat_labels = labels
            return reservation_of(booking, session)

    @activity.defn(name="release_places")
    async def release(self, booking_id: str) -> ReleaseResult:
        """Give the booking's places back, held or sold. Releasing twice releases nothing."""
        async with transaction(self._sessionmaker) as db:
            released = await free_places(db, uuid.UUID(booking_id))
        await self._places_came_back(uuid.UUID(booking_id))
        return ReleaseResult(released=released)

    @activity.defn(name="release_some_places")
    async def release_some(self, request: ReleaseSome) -> Repriced:
        """Free some sold places of a confirmed booking and store the price of what it keeps
        (`request.kept`, the workflow's: `core.pricing.kept`), in one transaction; running it
        again changes nothing and answers the same."""
        key = uuid.UUID(request.booking_id)
        async with transaction(self._sessionmaker) as db:
            booking = await db.get(Booking, key, with_for_update=True)
            if booking is None:
                raise InvalidRequest(f"booking {request.booking_id} does not exist")
            keep = [label for label in booking.seat_labels if label not in request.seat_labels]
            if len(keep) == len(booking.seat_labels):
                return _repriced(booking)  # done by an earlier attempt
            await db.execute(
                update(Seat)
                .where(Seat.booking_id == key, Seat.label.in_(request.seat_labels))
                .values(state=SeatState.FREE, booking_id=None)
            )
            booking.seat_labels = keep
            booking.quantity = len(keep)
            booking.amount_subtotal = request.kept.amount_subtotal
            booking.discount = request.kept.discount
            booking.amount_total = request.kept.amount_total
            booking.updated_at = await database_now(db)
            repriced = _repriced(booking)
        await self._places_came_back(key)
        return repriced

    @activity.defn(name="discard_booking")
    async def discard(self, booking_id: str) -> ReleaseResult:
        """Undo a setup that failed: free the places and delete the row, so a retry starts
        clean; the booking of an accepted waiting-list offer puts its entry back on the list
        (`wait_again`), which the places came back to."""
        key = uuid.UUID(booking_id)
        async with transaction(self._sessionmaker) as db:
            session_id = await db.scalar(select(Booking.session_id).where(Booking.id == key))
            released = await free_places(db, key)
            pending = select(Booking.id).where(
                Booking.id == key, Booking.status == BookingStatus.PENDING_PAYMENT
            )
            # Its intent, when a setup step wrote it before the setup failed after all.
            await db.execute(delete(BookingPayment).where(BookingPayment.booking_id.in_(pending)))
            deleted = await db.execute(
                delete(Booking).where(
                    Booking.id == key, Booking.status == BookingStatus.PENDING_PAYMENT
                )
            )
            if deleted.rowcount:  # type: ignore[attr-defined]
                # A booking that never was announces nothing: its `booking.created` may have
                # been written by a setup step that then failed.
                await db.execute(delete(WebhookEvent).where(WebhookEvent.stream_id == key))
                await wait_again(db, key)  # a waiting-list offer's booking: its entry waits
        if session_id is not None:
            await self._places_came_back(key, session_id)
        return ReleaseResult(released=released)

    @activity.defn(name="confirm_sale")
    async def confirm(self, booking_id: str) -> Confirmation:
        """Turn exactly the booking's held places into sold ones and give it its reference, once.

        Refuses (non-retryable) when the places are no longer all held by this booking or the
        session was cancelled: the workflow then refunds instead of confirming.
        """
        key = uuid.UUID(booking_id)
        confirmation = await self._confirm_once(key)
        await self._nudge_webhooks(key)
        return confirmation

    async def _confirm_once(self, key: uuid.UUID) -> Confirmation:
        booking_id = str(key)
        async with transaction(self._sessionmaker) as db:
            booking = await db.get(Booking, key, with_for_update=True)
            if booking is None:
                raise InvalidRequest(f"booking {booking_id} does not exist")
            if booking.reference is not None and booking.confirmed_at is not None:
                return Confirmation(booking_id, booking.reference, booking.confirmed_at)
            session = await db.get(Session, booking.session_id)
            if session is None or session.status != SessionStatus.SCHEDULED:
                raise SessionNotBookable(f"session {booking.session_id} was cancelled")
            sold = await db.scalars(
                update(Seat)
                .where(Seat.booking_id == key, Seat.state == SeatState.HELD)
                .values(state=SeatState.SOLD)
                .returning(Seat.label)
            )
            if sorted(sold) != sorted(booking.seat_labels):
                raise SeatsUnavailable(
                    f"booking {booking_id} no longer holds its places {booking.seat_labels}"
                )
            now = await database_now(db)
            organisation = await db.get_one(Organisation, session.organisation_id)
            booking.reference = await next_reference(db, organisation, now.year)
            booking.ticket_seat_labels = list(booking.seat_labels)
            booking.status = BookingStatus.CONFIRMED
            booking.confirmed_at = now
            booking.amount_paid = booking.amount_total
            await db.flush()
            await publish_booking_event(db, key, WebhookEventType.BOOKING_CONFIRMED)
            return Confirmation(booking_id, booking.reference, now)

    @activity.defn(name="record_transition")
    async def record(self, transition: Transition) -> RecordOutcome:
        """Mirror a workflow transition into the bookings table, with its webhook event; a
        customer's close is refused once the session is cancelled (`unless_session_cancelled`)."""
        values: dict[str, object] = {
            "status": transition.status,
            "status_reason": transition.status_reason,
        }
        if transition.payment_intent_id is not None:
            values["payment_intent_id"] = transition.payment_intent_id
        # Written with the intent by `open_payment` only: the workflow's later transitions name
        # the intent but not its account, which stays as written.
        if transition.stripe_account_id is not None:
            values["stripe_account_id"] = transition.stripe_account_id
        if transition.application_fee_amount is not None:
            values["application_fee_amount"] = transition.application_fee_amount
        if transition.hold_expires_at is not None:
            values["hold_expires_at"] = transition.hold_expires_at
        if transition.amount_paid is not None:
            values["amount_paid"] = transition.amount_paid
        if transition.status == BookingStatus.EXPIRED:
            # Never confirmed, whatever a confirmation step lost with its workflow task (a
            # worker killed after it committed) left in the row: the mirror follows the
            # workflow, and nothing then asks this booking for a receipt.
            values["confirmed_at"] = None
        if transition.status not in OPEN_STATUSES:
            values["closed_at"] = func.coalesce(BOOKINGS.c.closed_at, func.now())
        key = uuid.UUID(transition.booking_id)
        event = STATUS_EVENTS.get(transition.status)
        async with transaction(self._sessionmaker) as db:
            if transition.unless_session_cancelled and await _session_cancelled(db, key):
                return RecordOutcome.SESSION_CANCELLED
            await db.execute(update(BOOKINGS).where(BOOKINGS.c.id == key).values(values))
            if transition.status == BookingStatus.PENDING_PAYMENT and transition.payment_intent_id:
                # Written by `open_payment` with the intent: the first of the booking's intents.
                await record_own_intent(db, key, transition.payment_intent_id)
            published = None
            if event is not None:
                published = await publish_booking_event(db, key, event)
        if published is not None:
            await self._nudge_webhooks(key)
        return RecordOutcome.RECORDED

    async def _places_came_back(
        self, booking_id: uuid.UUID, session_id: uuid.UUID | None = None
    ) -> None:
        """After the commit: wake the session's waiting list, if anyone waits. Also when this
        attempt released nothing: an earlier one may have, and lost its nudge."""
        if self._waiting_lists is not None:
            await self._waiting_lists.places_came_back(booking_id, session_id)

    async def _nudge_webhooks(self, booking_id: uuid.UUID) -> None:
        """After the commit: a failure raises, so the retry nudges every pending one again."""
        if self._webhooks is not None:
            await self._webhooks.nudge_stream(booking_id)


async def _session_cancelled(db: AsyncSession, booking_id: uuid.UUID) -> bool:
    """Whether the booking's session is cancelled, read under a share lock of its row: a
    cancellation (`stop_sales`, which locks it for update) commits wholly before or after the
    caller's transaction, so the bookings it names as open are exactly those still open."""
    status = await db.scalar(
        select(Session.status)
        .join(Booking, Booking.session_id == Session.id)
        .where(Booking.id == booking_id)
        .with_for_update(read=True, of=Session)
    )
    return status == SessionStatus.CANCELLED


def _repriced(booking: Booking) -> Repriced:
    return Repriced(
        list(booking.seat_labels), booking.amount_subtotal, booking.discount, booking.amount_total
    )
