"""The waiting list's rounds: each one transaction that ends the list with its session, lets
offers past their deadline lapse, and offers the free places by the fairness rule
(`core.waiting_list`), holding each offer's places in the transaction that takes them from the
free pool; and the emails each entry is owed, each once. Each round's transaction writes the
`waitlist.*` webhook events of the transitions it makes; after it commits, the round wakes the
deliveries of every event of the list's entries still pending (those the API wrote on a join
or a leave, which nudges the list, among them)."""

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.mail import Mailer, MailRefused
from activities.notifications import sellers_email
from activities.webhook_signals import DeliveryStarter
from core.db import transaction
from core.enums import (
    LIVE_ENTRY_STATES,
    DeliveryOutcome,
    SeatState,
    SessionStatus,
    WaitingEntryState,
    WaitingListStatus,
)
from core.errors import SessionNotFound
from core.waiting_list import Candidate, choose_offers, offer_deadline, offer_token, token_hash
from documents.waiting_list_emails import render_waiting_list_email
from messages.waiting_list import ListRound, Notice
from models.tables import Organisation, Seat, Session, WaitingListEntry
from store.waiting_list import release_offered
from store.waiting_list_events import publish_entry_events

# The states an entry is emailed about, once each (`told_state`).
_TOLD = (WaitingEntryState.OFFERED, WaitingEntryState.EXPIRED, WaitingEntryState.CLOSED)


class WaitingListActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        token_secret: str,
        mailer: Mailer,
        from_email: str,
        accept_url: str,
        webhooks: DeliveryStarter | None = None,
    ) -> None:
        """`token_secret` signs the accept tokens (the API's pepper, as its other tokens);
        `accept_url` is where the email's link points, `{entry_id}` and `{token}` filled in;
        `webhooks` None: events stay in the outbox until something wakes their delivery."""
        self._sessionmaker = sessionmaker
        self._secret = token_secret
        self._mailer = mailer
        self._from = from_email
        self._accept_url = accept_url
        self._webhooks = webhooks

    @activity.defn(name="advance_waiting_list")
    async def advance(self, session_id: str) -> ListRound:
        """One round; running it again does what is left to do, nothing twice."""
        round = await self._advance(session_id)
        if self._webhooks is not None:  # a failure raises: the retry wakes them again
            entries = select(WaitingListEntry.id).where(
                WaitingListEntry.session_id == uuid.UUID(session_id)
            )
            await self._webhooks.nudge_streams(entries)
        return round

    async def _advance(self, session_id: str) -> ListRound:
        async with transaction(self._sessionmaker) as db:
            # Rounds of one session queue on its row; a cancellation (FOR UPDATE) waits for one.
            found = (
                await db.execute(
                    select(Session, func.now())
                    .where(Session.id == uuid.UUID(session_id))
                    .with_for_update(key_share=True)
                )
            ).first()
            if found is None:
                raise SessionNotFound(f"session {session_id} does not exist")
            session, now = found
            if _sales_ended(session, now):
                await _end_entries(db, session, WaitingEntryState.CLOSED, LIVE_ENTRY_STATES, now)
                return await _round(db, session, ended=True)
            await _end_entries(
                db,
                session,
                WaitingEntryState.EXPIRED,
                {WaitingEntryState.OFFERED},
                now,
                WaitingListEntry.offer_expires_at <= now,
            )
            if session.waiting_list_status == WaitingListStatus.OPEN:
                await self._offer(db, session, now)
            return await _round(db, session, ended=False)

    async def _offer(self, db: AsyncSession, session: Session, now: datetime) -> None:
        waiting = list(
            await db.scalars(
                select(WaitingListEntry)
                .where(
                    WaitingListEntry.session_id == session.id,
                    WaitingListEntry.state == WaitingEntryState.WAITING,
                )
                .order_by(WaitingListEntry.position)
                .with_for_update()
            )
        )
        if not waiting:
            return
        # The free places, locked: a reservation taking one meanwhile is skipped, not raced.
        free = list(
            await db.scalars(
                select(Seat.label)
                .where(Seat.session_id == session.id, Seat.state == SeatState.FREE)
                .order_by(Seat.position)
                .with_for_update(skip_locked=True)
            )
        )
        choice = choose_offers([_candidate(e) for e in waiting], free)
        offered = []
        for entry in waiting:
            places = choice.offers.get(str(entry.id))
            if places is not None:
                await self._hold_for(db, session, entry, places, now)
                offered.append(entry.id)
            elif str(entry.id) in choice.skipped:
                entry.skipped_count += 1
                entry.updated_at = now
        await publish_entry_events(db, offered)

    async def _hold_for(
        self,
        db: AsyncSession,
        session: Session,
        entry: WaitingListEntry,
        places: list[str],
        now: datetime,
    ) -> None:
        await db.execute(
            update(Seat)
            .where(
                Seat.session_id == session.id,
                Seat.label.in_(places),
                Seat.state == SeatState.FREE,
            )
            .values(state=SeatState.OFFERED, waiting_entry_id=entry.id)
        )
        entry.offers_made += 1
        entry.state = WaitingEntryState.OFFERED
        entry.offer_seat_labels = places
        entry.offer_expires_at = offer_deadline(now, session.offer_seconds, session.starts_at)
        entry.offer_caps = 0
        entry.offer_token_hash = token_hash(
            offer_token(self._secret, str(entry.id), entry.offers_made)
        )
        entry.offered_at = entry.updated_at = now

    @activity.defn(name="send_waiting_list_email")
    async def send_email(self, notice: Notice) -> DeliveryOutcome:
        """The email of `notice`, unless its entry was told already or has moved on; at least
        once (a crash after sending and before recording sends again, with the same key). An
        offer whose deadline was capped at an earlier start is told again, once per cap
        (`offer_caps` in the key); a cap landing while this sends leaves it owed."""
        async with self._sessionmaker() as db:
            entry = await db.get(WaitingListEntry, uuid.UUID(notice.entry_id))
            if entry is None or entry.state != notice.state or entry.told_state == notice.state:
                return DeliveryOutcome.ALREADY_SENT
            session = await db.get_one(Session, entry.session_id)
            organisation = await db.get_one(Organisation, session.organisation_id)
        key = f"waiting-list:{notice.entry_id}:{notice.state}:{notice.offer_number}"
        caps = entry.offer_caps  # recorded told only while no cap came meanwhile
        if notice.state == WaitingEntryState.OFFERED and caps:
            key += f":cap-{caps}"
        token = offer_token(self._secret, notice.entry_id, notice.offer_number)
        rendered = render_waiting_list_email(
            WaitingEntryState(notice.state),
            entry,
            session,
            organisation,
            self._accept_url.format(entry_id=notice.entry_id, token=token),
        )
        to = (entry.customer_email, entry.customer_name)
        email = sellers_email(key, self._from, organisation, to, rendered)
        outcome = DeliveryOutcome.SENT
        try:
            await self._mailer.send(email)
        except MailRefused as err:
            activity.logger.warning("waiting-list email %s refused: %s", key, err)
            outcome = DeliveryOutcome.REFUSED
        async with transaction(self._sessionmaker) as db:
            await db.execute(
                update(WaitingListEntry)
                .where(
                    WaitingListEntry.id == entry.id,
                    WaitingListEntry.state == notice.state,
                    WaitingListEntry.offer_caps == caps,
                )
                .values(told_state=notice.state)
            )
        return outcome


def _sales_ended(session: Session, now: datetime) -> bool:
    return (
        session.status != SessionStatus.SCHEDULED
        or session.starts_at <= now
        or session.waiting_list_status == WaitingListStatus.CLOSED
    )


async def _end_entries(
    db: AsyncSession,
    session: Session,
    state: WaitingEntryState,
    among: frozenset[WaitingEntryState] | set[WaitingEntryState],
    now: datetime,
    *conditions: object,
) -> None:
    ended = list(
        await db.scalars(
            update(WaitingListEntry)
            .where(
                WaitingListEntry.session_id == session.id,
                WaitingListEntry.state.in_(among),
                *conditions,  # type: ignore[arg-type]
            )
            .values(
                state=state,
                offer_expires_at=None,
                offer_token_hash=None,
                closed_at=now,
                updated_at=now,
            )
            .returning(WaitingListEntry.id)
        )
    )
    await publish_entry_events(db, ended)
    await release_offered(db, ended)


async def _round(db: AsyncSession, session: Session, *, ended: bool) -> ListRound:
    entries = (
        await db.execute(
            select(
                WaitingListEntry.id,
                WaitingListEntry.state,
                WaitingListEntry.told_state,
                WaitingListEntry.offers_made,
                WaitingListEntry.offer_expires_at,
            ).where(WaitingListEntry.session_id == session.id)
        )
    ).all()
    notices = [
        Notice(str(e.id), e.state, e.offers_made)
        for e in entries
        if e.state in _TOLD and e.told_state != e.state
    ]
    deadlines = [e.offer_expires_at for e in entries if e.offer_expires_at is not None]
    return ListRound(
        waiting=sum(e.state == WaitingEntryState.WAITING for e in entries),
        offered=len(deadlines),
        notices=notices,
        wake_at=None if ended else min([*deadlines, session.starts_at]),
        ended=ended,
    )


def _candidate(entry: WaitingListEntry) -> Candidate:
    return Candidate(str(entry.id), entry.quantity, tuple(entry.seat_labels), entry.skipped_count)
