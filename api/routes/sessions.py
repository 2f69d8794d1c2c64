"""Sessions: list and read them with availability; admins create, change and cancel them."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import AdminCaller, ClientCaller, DbDep, SettingsDep, TemporalDep
from api.routes.webhook_endpoints import delivery_starter
from clients import waiting_lists
from clients.session_cancellation import cancel_session_within
from clients.session_changes import after_update
from core.enums import SessionKind, SessionStatus
from core.errors import SessionNotBookable, SessionNotFound, parse_id
from core.refund_policy import tiers_of
from messages.session_changes import session_change_id
from models.tables import Session
from schemas.fields import QueryMoment
from schemas.sessions import (
    AvailabilityOut,
    GroupDiscountIn,
    RefundTierIn,
    SessionCancellation,
    SessionChangeOut,
    SessionCreate,
    SessionFields,
    SessionOut,
    SessionPage,
    SessionUpdate,
    SessionUpdated,
)
from store.catalog import (
    Availability,
    SeatRow,
    SessionFilter,
    SessionSpec,
    create_session,
    get_session,
    list_sessions,
)
from store.session_changes import AcceptOrRefund, SessionPatch, update_session

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

_SESSION_FIELDS = set(SessionFields.model_fields)
# PostgreSQL's OFFSET is a bigint.
_MAX_OFFSET = 2**63 - 1


@router.get("", response_model=SessionPage)
async def list_all(
    caller: ClientCaller,
    db: DbDep,
    kind: SessionKind | None = None,
    location: Annotated[str | None, Query(max_length=200)] = None,
    starts_after: QueryMoment | None = None,
    starts_before: QueryMoment | None = None,
    q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=_MAX_OFFSET)] = 0,
) -> SessionPage:
    where = SessionFilter(
        kind, location, starts_after, starts_before, q, organisation_id=caller.organisation_id
    )
    page, total = await list_sessions(db, where, limit, offset)
    return SessionPage(
        items=[session_out(s, a) for s, a in page], total=total, limit=limit, offset=offset
    )


@router.get("/{session_id}", response_model=SessionOut)
async def read_one(session_id: str, caller: ClientCaller, db: DbDep) -> SessionOut:
    return session_out(*await get_session(db, session_id, caller.organisation_id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create(body: SessionCreate, caller: AdminCaller, db: DbDep) -> SessionOut:
    discount = body.group_discount
    spec = SessionSpec(
        **body.model_dump(include=_SESSION_FIELDS),
        capacity=body.capacity,
        seat_map=[SeatRow(row.label, row.seats) for row in body.seat_map],
        discount_min_quantity=discount.min_quantity if discount else 0,
        discount_basis_points=discount.percent * 100 if discount else 0,
        organisation_id=caller.organisation_id,
        refund_policy=[tier.model_dump() for tier in body.refund_policy],
    )
    session = await create_session(db, spec)
    await db.commit()
    return session_out(session, Availability(session.capacity, 0, 0))


@router.patch(
    "/{session_id}",
    response_model=SessionUpdated,
    responses={
        409: {
            "description": "Capacity below the places taken (with the figures), or the "
            "session is cancelled, has started (for a time change) or has ended (for "
            "`certifying`)"
        },
        503: {"description": "Saved, but its announcement was not started: PATCH it again"},
    },
)
async def update(
    session_id: str,
    body: SessionUpdate,
    caller: AdminCaller,
    db: DbDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    request: Request,
) -> SessionUpdated:
    """Change the fields given (the others stay); a refused change (422, 409) changes nothing.

    A new time or place is the session's next change: a workflow tells every open booking
    (an email saying what changed with the updated calendar file, its reminder and end timed
    anew, `booking.updated` after the `session.updated` event). A new capacity never goes below
    the places sold, held and offered; raising it wakes the waiting list. `certifying` changes
    until the session ends (its end decides the certificates owed). Asking again for what
    already is changes nothing, and announces the last change again if it was not (each booking
    is told once)."""
    key = parse_id(session_id, SessionNotFound, "session")
    window = body.accept_or_refund
    patch = SessionPatch(
        **body.model_dump(
            include={"title", "location", "starts_at", "ends_at", "capacity", "certifying"}
        ),
        accept_or_refund=AcceptOrRefund(**window.model_dump()) if window else None,
    )
    outcome = await update_session(db, key, caller.organisation_id, patch)
    change = outcome.change
    changed = (
        SessionChangeOut(
            sequence=change.sequence,
            changes=change.changes,
            refund_in_full_until=change.refund_in_full_until,
            workflow_id=session_change_id(str(key), change.sequence),
        )
        if change
        else None
    )
    await db.commit()
    await after_update(temporal, settings, delivery_starter(request, temporal, settings), outcome)
    return SessionUpdated(session=session_out(*await get_session(db, str(key))), change=changed)


@router.post(
    "/{session_id}/cancel",
    response_model=SessionCancellation,
    responses={
        202: {
            "model": SessionCancellation,
            "description": "Still under way: the progress so far; the session is at Location",
            "headers": {"Location": {"description": "The session", "schema": {"type": "string"}}},
        },
        409: {"description": "The session has started"},
    },
)
async def cancel(
    session_id: str, caller: AdminCaller, db: DbDep, temporal: TemporalDep, settings: SettingsDep
) -> SessionCancellation | JSONResponse:
    """Stop selling and cancel every open booking, through the session's cancellation workflow:
    released before payment, refunded after; each customer gets the session-cancelled email.

    200 with the outcome when it ends within a few seconds, else 202 with the progress so far.
    Safe to repeat: while it runs, this answers its progress; once it has ended, it finishes
    what is left (the bookings listed as failed).
    """
    session, _ = await get_session(db, session_id, caller.organisation_id)
    if session.status != SessionStatus.CANCELLED and session.starts_at <= datetime.now(UTC):
        raise SessionNotBookable("a session that has started cannot be cancelled")
    key = str(session.id)
    await db.rollback()  # hold no connection while waiting; the session is read again after
    progress, finished = await cancel_session_within(temporal, settings, key)
    await waiting_lists.nudge(temporal, settings, key)  # its waiting list ends with it
    body = SessionCancellation(
        session=session_out(*await get_session(db, key)),
        finished=finished,
        total=progress.total,
        done=progress.done,
        bookings=progress.outcomes,
        failed={failure.booking_id: failure.error for failure in progress.failed},
    )
    if finished:
        return body
    location = {"Location": f"{router.prefix}/{key}"}
    return JSONResponse(body.model_dump(mode="json"), status_code=202, headers=location)


def session_out(session: Session, availability: Availability) -> SessionOut:
    discount = None
    if session.discount_basis_points:
        discount = GroupDiscountIn(
            min_quantity=session.discount_min_quantity,
            percent=session.discount_basis_points // 100,
        )
    return SessionOut(
        **SessionFields.model_validate(session, from_attributes=True).model_dump(),
        id=session.id,
        group_discount=discount,
        refund_policy=[
            RefundTierIn.model_validate(tier, from_attributes=True)
            for tier in tiers_of(session.refund_policy)
        ],
        status=SessionStatus(session.status),
        availability=AvailabilityOut.model_validate(availability, from_attributes=True),
    )
