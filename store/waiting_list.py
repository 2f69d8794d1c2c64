"""Waiting-list entries as the API reads and changes them: join, read, leave, decline, list,
and the session's list status. What is offered to whom is the list's workflow's
(`activities.waiting_list`); each change here that gives places back is followed by a nudge of
that workflow (after the commit, by the caller)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import (
    LIVE_ENTRY_STATES,
    SeatState,
    SessionStatus,
    WaitingEntryState,
    WaitingListStatus,
)
from core.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    NoOpenOffer,
    PlacesAvailable,
    SessionNotBookable,
    WaitingEntryNotFound,
    WaitingListClosed,
    parse_id,
)
from core.waiting_list import token_hash
from models.tables import Booking, Seat, Session, WaitingListEntry
from store.catalog import SessionLock, session_of
from store.sequences import database_now
from store.waiting_list_events import publish_entry_events

_ENTRY_NAMESPACE = uuid.UUID("8d1f5c3e-2b7a-4e61-9c0d-5a4b3e2f1d70")


def entry_id_for(key_id: str, idempotency_key: str | None) -> uuid.UUID:
    """The same API key and Idempotency-Key name the same entry (none: a new one)."""
    if not idempotency_key:
        return uuid.uuid4()
    return uuid.uuid5(_ENTRY_NAMESPACE, f"{key_id}\n{idempotency_key}")


@dataclass(frozen=True)
class JoinRequest:
    entry_id: uuid.UUID
    session_id: str
    customer_name: str
    customer_email: str
    quantity: int
    seat_labels: list[str]
    attendees: list[dict[str, Any]]
    request_fingerprint: str


async def join(
    db: AsyncSession, request: JoinRequest, organisation_id: uuid.UUID
) -> WaitingListEntry:
    """The new entry (or the one this Idempotency-Key made): PlacesAvailable (409, with the
    free places) when the session has the places asked for; refused once sales have ended
    or the list is paused or closed."""
    existing = await db.get(WaitingListEntry, request.entry_id)
    if existing is not None:
        IdempotencyKeyReused.unless_same(existing.request_fingerprint, request.request_fingerprint)
        return existing
    session = await session_of(db, request.session_id, organisation_id)
    if session.status != SessionStatus.SCHEDULED or session.starts_at <= await database_now(db):
        raise SessionNotBookable(f"session {session.id} is {session.status} or started")
    if session.waiting_list_status != WaitingListStatus.OPEN:
        raise WaitingListClosed(f"the waiting list is {session.waiting_list_status}")
    await _refuse_when_free(db, session, request)
    values = {
        "id": request.entry_id,
        "session_id": session.id,
        "customer_name": request.customer_name,
        "customer_email": request.customer_email,
        "quantity": request.quantity,
        "seat_labels": request.seat_labels,
        "attendees": request.attendees,
        "state": WaitingEntryState.WAITING,
        "offer_seat_labels": [],
        "request_fingerprint": request.request_fingerprint,
    }
    await db.execute(
        insert(WaitingListEntry).values(values).on_conflict_do_nothing(index_elements=["id"])
    )
    entry = await db.get_one(WaitingListEntry, request.entry_id, populate_existing=True)
    IdempotencyKeyReused.unless_same(entry.request_fingerprint, request.request_fingerprint)
    await publish_entry_events(db, [entry.id])
    return entry


async def _refuse_when_free(db: AsyncSession, session: Session, request: JoinRequest) -> None:
    labels = request.seat_labels
    if labels:
        states = dict(
            (
                await db.execute(
                    select(Seat.label, Seat.state).where(
                        Seat.session_id == session.id, Seat.label.in_(labels)
                    )
                )
            ).all()
        )
        unknown = [label for label in labels if label not in states]
        if unknown:
            raise InvalidRequest(f"seats not in this session: {', '.join(unknown)}", seats=unknown)
        if all(state == SeatState.FREE for state in states.values()):
            raise PlacesAvailable("the seats asked for are free", seats=labels)
        return
    free = await db.scalar(
        select(func.count()).where(Seat.session_id == session.id, Seat.state == SeatState.FREE)
    )
    if free is not None and free >= request.quantity:
        raise PlacesAvailable(f"{free} places are free", available=free)


async def get_entry(
    db: AsyncSession, entry_id: str, organisation_id: uuid.UUID, *, lock: bool = False
) -> WaitingListEntry:
    """The organisation's entry; another organisation's is WaitingEntryNotFound as well, and so
    is one its customer took off the list (LEFT: the organiser's list still shows it)."""
    key = parse_id(entry_id, WaitingEntryNotFound, "waiting-list entry")
    query = (
        select(WaitingListEntry)
        .join(Session, Session.id == WaitingListEntry.session_id)
        .where(WaitingListEntry.id == key, Session.organisation_id == organisation_id)
    )
    if lock:
        query = query.with_for_update(of=WaitingListEntry)
    entry = await db.scalar(query)
    if entry is None or entry.state == WaitingEntryState.LEFT:
        raise WaitingEntryNotFound(f"waiting-list entry {entry_id} does not exist")
    return entry


async def position_of(db: AsyncSession, entry: WaitingListEntry) -> int | None:
    """1 for the first entry still waiting (or offered); None once the entry has left the
    queue."""
    if entry.state not in LIVE_ENTRY_STATES:
        return None
    ahead = await db.scalar(
        select(func.count()).where(
            WaitingListEntry.session_id == entry.session_id,
            WaitingListEntry.state.in_(LIVE_ENTRY_STATES),
            WaitingListEntry.position < entry.position,
        )
    )
    return (ahead or 0) + 1


async def end_entry(db: AsyncSession, entry: WaitingListEntry, state: WaitingEntryState) -> int:
    """Move a live entry to `state` (an end), giving back the places held for its offer, with
    its webhook event; how many places. An entry already ended is left as it is (0)."""
    if entry.state not in LIVE_ENTRY_STATES:
        return 0
    entry.state = state
    entry.offer_expires_at = None
    entry.offer_token_hash = None
    entry.closed_at = entry.updated_at = await database_now(db)
    await publish_entry_events(db, [entry.id])
    return await release_offered(db, [entry.id])


async def release_offered(db: AsyncSession, entry_ids: list[uuid.UUID]) -> int:
    """The places held for these entries' offers, freed; how many."""
    if not entry_ids:
        return 0
    freed = await db.execute(
        update(Seat)
        .where(Seat.waiting_entry_id.in_(entry_ids), Seat.state == SeatState.OFFERED)
        .values(state=SeatState.FREE, waiting_entry_id=None)
        .returning(Seat.id)
    )
    return len(freed.all())


async def cap_offers_at_start(db: AsyncSession, session: Session) -> bool:
    """After the session's start moved earlier: its open offers' deadlines capped at the new
    start (an offer never outlives the sales: `core.waiting_list.offer_deadline`), each owed
    its customer again (the list's next round emails the new deadline, once per cap: its key
    counts `offer_caps`); whether the list has a live entry, whose workflow must look again
    (its timer is set for the old times)."""
    await db.execute(
        update(WaitingListEntry)
        .where(
            WaitingListEntry.session_id == session.id,
            WaitingListEntry.state == WaitingEntryState.OFFERED,
            WaitingListEntry.offer_expires_at > session.starts_at,
        )
        .values(
            offer_expires_at=session.starts_at,
            offer_caps=WaitingListEntry.offer_caps + 1,
            told_state=None,
            updated_at=func.now(),
        )
    )
    live = await db.scalar(
        select(func.count()).where(
            WaitingListEntry.session_id == session.id,
            WaitingListEntry.state.in_(LIVE_ENTRY_STATES),
        )
    )
    return bool(live)


async def wait_again(db: AsyncSession, booking_id: uuid.UUID) -> bool:
    """The entry whose accepted offer started `booking_id`, waiting again at its place in the
    list, when that booking's setup failed and was discarded: the places the booking freed go
    to the list's next round (its own again while it is first in line, as a new offer with
    its email and token). Whether there was one."""
    return bool(await _wait_again(db, WaitingListEntry.booking_id == booking_id))


def stranded_acceptance() -> ColumnElement[bool]:
    """An entry `accepted` whose booking does not exist: a setup that failed and was
    discarded before `wait_again` put such entries back (reconcile's
    `accepted-without-booking`; `requeue_stranded` puts them back)."""
    return and_(
        WaitingListEntry.state == WaitingEntryState.ACCEPTED,
        ~exists().where(Booking.id == WaitingListEntry.booking_id),
    )


async def requeue_stranded(
    db: AsyncSession, entry_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """These entries waiting again at their place, if each is still stranded (checked in the
    statement that acts, so one whose booking appeared meanwhile stays accepted): (entry,
    session) of each put back; its list's next round offers it places again."""
    if not entry_ids:
        return []
    return await _wait_again(db, WaitingListEntry.id.in_(entry_ids), stranded_acceptance())


async def _wait_again(
    db: AsyncSession, *conditions: ColumnElement[bool]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    reopened = await db.execute(
        update(WaitingListEntry)
        .where(WaitingListEntry.state == WaitingEntryState.ACCEPTED, *conditions)
        .values(
            state=WaitingEntryState.WAITING,
            booking_id=None,
            told_state=None,
            closed_at=None,
            updated_at=func.now(),
        )
        .returning(WaitingListEntry.id, WaitingListEntry.session_id)
    )
    return [(entry_id, session_id) for entry_id, session_id in reopened.all()]


def check_token(entry: WaitingListEntry, token: str) -> None:
    """NoOpenOffer unless the entry holds an open offer and `token` is its."""
    if entry.state != WaitingEntryState.OFFERED or entry.offer_token_hash != token_hash(token):
        raise NoOpenOffer(f"waiting-list entry {entry.id} holds no offer for this token")


async def entries_of(
    db: AsyncSession, session_id: str, organisation_id: uuid.UUID | None
) -> tuple[Session, list[WaitingListEntry]]:
    """The session and its entries in join order; `organisation_id` None: an operator's read,
    of any organisation's session."""
    session = await session_of(db, session_id, organisation_id)
    entries = await db.scalars(
        select(WaitingListEntry)
        .where(WaitingListEntry.session_id == session.id)
        .order_by(WaitingListEntry.position)
    )
    return session, list(entries)


async def set_list_status(
    db: AsyncSession,
    session_id: str,
    organisation_id: uuid.UUID,
    status: WaitingListStatus | None,
    offer_seconds: int | None = None,
) -> Session:
    """A closed list stays closed (its entries were told so)."""
    session = await session_of(db, session_id, organisation_id, lock=SessionLock.NO_KEY_UPDATE)
    if session.waiting_list_status == WaitingListStatus.CLOSED and status not in (
        None,
        WaitingListStatus.CLOSED,
    ):
        raise WaitingListClosed("a closed waiting list cannot be opened again")
    if status is not None:
        session.waiting_list_status = status
    if offer_seconds is not None:
        session.offer_seconds = offer_seconds
    await db.flush()
    return session
