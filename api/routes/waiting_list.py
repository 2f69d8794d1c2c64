"""Waiting lists: join a session's, read or leave an entry, accept or decline its offer; admins
list a session's entries and pause or close its list.

Each change that may free places or let the list move on nudges the session's waiting-list
workflow after its commit (`workflows.waiting_list`); what is offered to whom is decided there.
"""

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.booking_form import checked_form
from api.deps import AdminCaller, ClientCaller, DbDep, SettingsDep, TemporalDep
from api.routes.bookings import booking_out
from clients.idempotency import request_fingerprint
from clients.waiting_lists import accept_offer, acceptance, list_summary, nudge
from core.enums import WaitingEntryState, WaitingListStatus
from core.errors import NoOpenOffer
from core.waiting_list import offer_token
from models.tables import Session, WaitingListEntry
from schemas.bookings import AttendeeIn, BookingOut, CustomerOut
from schemas.waiting_list import (
    OfferAcceptance,
    OfferAnswer,
    OfferOut,
    WaitingEntryOut,
    WaitingListJoin,
    WaitingListOut,
    WaitingListUpdate,
)
from store.booking_records import get_booking
from store.waiting_list import (
    JoinRequest,
    check_token,
    end_entry,
    entries_of,
    entry_id_for,
    get_entry,
    join,
    position_of,
    set_list_status,
)

router = APIRouter(prefix="/v1", tags=["waiting list"])


@router.post(
    "/sessions/{session_id}/waiting-list",
    status_code=status.HTTP_201_CREATED,
    response_model=WaitingEntryOut,
    responses={409: {"description": "Enough places are free (book them), or the list is closed"}},
)
async def join_list(
    session_id: str,
    body: WaitingListJoin,
    caller: ClientCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> WaitingEntryOut:
    """Join the session's waiting list for a number of places or named seats, when the session
    does not have them free (409 `places-available` with what is free otherwise). The same
    Idempotency-Key with the same body answers the same entry."""
    request = JoinRequest(
        entry_id=entry_id_for(str(caller.key_id), idempotency_key),
        session_id=session_id,
        customer_name=body.customer.name,
        customer_email=body.customer.email,
        quantity=body.places,
        seat_labels=body.seats,
        attendees=[a.model_dump() for a in body.attendees],
        request_fingerprint=request_fingerprint(
            {"session_id": session_id, **body.model_dump(mode="json")}
        ),
    )
    entry = await join(db, request, caller.organisation_id)
    session = await db.get_one(Session, entry.session_id)
    await db.commit()
    await nudge(temporal, settings, str(session.id), list_summary(session))
    return await _entry_out(db, entry, settings.api_key_pepper)


@router.get("/waiting-list/{entry_id}", response_model=WaitingEntryOut)
async def read_entry(
    entry_id: str, caller: ClientCaller, db: DbDep, settings: SettingsDep
) -> WaitingEntryOut:
    """The entry, its place in the queue and, while it holds one, its offer with the token
    that accepts it."""
    entry = await get_entry(db, entry_id, caller.organisation_id)
    return await _entry_out(db, entry, settings.api_key_pepper)


@router.delete("/waiting-list/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def leave(
    entry_id: str, caller: ClientCaller, db: DbDep, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Leave the list (the places of an open offer go to the next entry); the entry is gone
    from then on (404), though the organiser's list still shows it, as left."""
    await _end(db, temporal, settings, entry_id, caller, WaitingEntryState.LEFT, None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/waiting-list/{entry_id}/decline",
    response_model=WaitingEntryOut,
    responses={409: {"description": "No open offer for this token"}},
)
async def decline(
    entry_id: str,
    body: OfferAnswer,
    caller: ClientCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> WaitingEntryOut:
    """Decline the offer: its places go to the next entry, and this entry leaves the list."""
    return await _end(
        db, temporal, settings, entry_id, caller, WaitingEntryState.DECLINED, body.token
    )


@router.post(
    "/waiting-list/{entry_id}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        409: {"description": "No open offer for this token"},
        422: {"description": "Answers or consents the session asks for are wrong or missing"},
        502: {},
    },
)
async def accept(
    entry_id: str,
    body: OfferAcceptance,
    caller: ClientCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> BookingOut:
    """Accept the offer: the booking starts with the offered places (never free meanwhile),
    and is paid as any booking (its PaymentIntent's client secret here), within its hold.
    The session's questions and consents are answered here, checked as a booking's (422
    naming each wrong one, its attendee and question; the offer stays open). Accepting again
    answers the same booking."""
    entry = await get_entry(db, entry_id, caller.organisation_id)
    if entry.state == WaitingEntryState.ACCEPTED and entry.booking_id is not None:
        if not hmac.compare_digest(body.token, _token(entry, settings.api_key_pepper)):
            raise NoOpenOffer(f"waiting-list entry {entry_id} holds no offer for this token")
        return booking_out(await get_booking(db, str(entry.booking_id), caller.organisation_id))
    check_token(entry, body.token)
    session = await db.get_one(Session, entry.session_id)
    accepted = acceptance(entry, session)
    accepted.request.answers, accepted.request.consents = checked_form(
        session, body, entry.quantity
    )
    await db.rollback()  # hold no connection while Temporal sets the booking up
    view = await accept_offer(temporal, settings, accepted, caller.organisation_id)
    booking = await get_booking(db, accepted.request.booking_id, caller.organisation_id)
    return booking_out(booking, client_secret=view.client_secret if view else None)


@router.get("/sessions/{session_id}/waiting-list", response_model=WaitingListOut)
async def list_entries(
    session_id: str, caller: AdminCaller, db: DbDep, settings: SettingsDep
) -> WaitingListOut:
    """Every entry of the session's list in join order, with the list's status."""
    session, entries = await entries_of(db, session_id, caller.organisation_id)
    return await _list_out(db, session, entries)


@router.patch(
    "/sessions/{session_id}/waiting-list",
    response_model=WaitingListOut,
    responses={409: {"description": "The list is closed"}},
)
async def update_list(
    session_id: str,
    body: WaitingListUpdate,
    caller: AdminCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> WaitingListOut:
    """Pause the list (no joins, no new offers; open offers run on), open it again, or close it
    for good (open offers withdrawn, entries closed and told); or change how long an offer
    stands (for offers made from now on)."""
    session = await set_list_status(
        db, session_id, caller.organisation_id, body.status, body.offer_seconds
    )
    await db.commit()
    await nudge(temporal, settings, str(session.id), list_summary(session))
    session, entries = await entries_of(db, session_id, caller.organisation_id)
    return await _list_out(db, session, entries)


async def _end(
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    entry_id: str,
    caller: ClientCaller,
    state: WaitingEntryState,
    token: str | None,
) -> WaitingEntryOut:
    entry = await get_entry(db, entry_id, caller.organisation_id, lock=True)
    if token is not None:
        check_token(entry, token)
    session = await db.get_one(Session, entry.session_id)
    await end_entry(db, entry, state)
    await db.commit()
    await nudge(temporal, settings, str(session.id), list_summary(session))
    return await _entry_out(db, entry, settings.api_key_pepper)


async def _list_out(db: DbDep, session: Session, entries: list[WaitingListEntry]) -> WaitingListOut:
    return WaitingListOut(
        session_id=session.id,
        status=WaitingListStatus(session.waiting_list_status),
        offer_seconds=session.offer_seconds,
        entries=[await _entry_out(db, entry) for entry in entries],
    )


async def _entry_out(
    db: DbDep, entry: WaitingListEntry, token_secret: str | None = None
) -> WaitingEntryOut:
    """With `token_secret`, an open offer shows its accept token."""
    offer = None
    if entry.state == WaitingEntryState.OFFERED and entry.offer_expires_at is not None:
        token = _token(entry, token_secret) if token_secret else None
        offer = OfferOut(
            seats=entry.offer_seat_labels, expires_at=entry.offer_expires_at, token=token
        )
    return WaitingEntryOut(
        id=entry.id,
        session_id=entry.session_id,
        state=WaitingEntryState(entry.state),
        position=await position_of(db, entry),
        quantity=entry.quantity,
        seats=entry.seat_labels,
        customer=CustomerOut(name=entry.customer_name, email=entry.customer_email),
        attendees=[AttendeeIn.model_validate(a) for a in entry.attendees],
        skipped=entry.skipped_count,
        offer=offer,
        booking_id=entry.booking_id,
        created_at=entry.created_at,
    )


def _token(entry: WaitingListEntry, secret: str) -> str:
    return offer_token(secret, str(entry.id), entry.offers_made)
