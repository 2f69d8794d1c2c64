"""Bookings: start one (a workflow), read it, cancel it or some of its places, refund it, fetch
its documents."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.availability import bookable_session
from api.booking_form import checked_form
from api.booking_lists import BookingListQuery, BookingPage, ListCursors
from api.deps import AdminCaller, ClientCaller, DbDep, SettingsDep, TemporalDep
from clients.booking_workflows import (
    Change,
    booking_id_for,
    booking_summary,
    change_within,
    check_places_changeable,
    customer_cancel,
    start_booking_workflow,
)
from clients.idempotency import request_fingerprint
from core.enums import DocumentKind
from core.errors import IdempotencyKeyReused, InvalidRequest, SellerProfileIncomplete
from messages.booking import (
    Attendee,
    BookingRequest,
    BookingView,
    MoveOrder,
    PlacesCancellation,
    RefundOrder,
)
from models.tables import Booking, BookingRefund, Organisation, Receipt, Session
from schemas.bookings import (
    BookingCreate,
    BookingOut,
    CancelIn,
    MoveIn,
    MovePaymentOut,
    PlacesCancelIn,
    RefundIn,
    RefundOut,
)
from store.booking_records import (
    ListPosition,
    get_booking,
    get_document,
    list_bookings,
    public_booking,
)
from store.organisations import missing_seller_details

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The PDF"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        404: {"description": "No such session"},
        409: {"description": "Sold out, seats taken, or the session cannot be booked"},
        502: {},
    },
)
async def create_booking(
    body: BookingCreate,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BookingOut:
    """Hold places and create the PaymentIntent in one round trip to Temporal (a free booking
    is confirmed at once, with no PaymentIntent). A request the database already shows cannot
    be met is answered 409 before any workflow starts, as are answers to the session's questions
    and its consents (422 naming each wrong one, its attendee and question)."""
    request = BookingRequest(
        booking_id=booking_id_for(str(caller.key_id), idempotency_key),
        session_id=str(body.session_id),
        customer_name=body.customer.name,
        customer_email=body.customer.email,
        quantity=body.places,
        seat_labels=body.seats,
        attendees=[Attendee(**a.model_dump()) for a in body.attendees],
        request_fingerprint=_fingerprint(body),
    )
    if settings.env == "production":
        await _seller_complete(db, caller.organisation_id)
    session = await bookable_session(db, request, caller.organisation_id)
    await _answer_form(db, session, body, request)
    summary = booking_summary(session, request.quantity)
    try:
        view = await start_booking_workflow(
            temporal, settings, request, summary, organisation_id=str(caller.organisation_id)
        )
    except WorkflowAlreadyStartedError:
        # The workflow has closed (expired, completed...): answer from the database mirror.
        booking = await get_booking(db, request.booking_id, caller.organisation_id)
        IdempotencyKeyReused.unless_same(booking.request_fingerprint, request.request_fingerprint)
        return booking_out(booking)
    booking = await get_booking(db, view.id, caller.organisation_id)
    return booking_out(booking, client_secret=view.client_secret)


async def _answer_form(
    db: AsyncSession, session: Session, body: BookingCreate, request: BookingRequest
) -> None:
    """The request's answers and consents, checked against the session's questions. A booking
    that exists already (its Idempotency-Key sent again) is answered as it was made, even if
    the questions changed since: its workflow or mirror answers, comparing fingerprints."""
    try:
        request.answers, request.consents = checked_form(session, body, request.quantity)
    except InvalidRequest:
        if await db.get(Booking, uuid.UUID(request.booking_id)) is None:
            raise
        await db.commit()


def _fingerprint(body: BookingCreate) -> str:
    """The request's hash; without answers or consents it is the hash of the body before they
    existed, so a request sent again across the upgrade is still the same request."""
    fields = body.model_dump(mode="json")
    for added in ("answers", "consents"):
        if not fields[added]:
            del fields[added]
    return request_fingerprint(fields)


async def _seller_complete(db: AsyncSession, organisation_id: uuid.UUID) -> None:
    """In production a booking is refused (409) while its receipt could not name the seller in
    full: no document is owed that would print an incomplete profile."""
    missing = missing_seller_details(await db.get_one(Organisation, organisation_id))
    if missing:
        raise SellerProfileIncomplete(
            f"the organisation's seller profile lacks {', '.join(missing)}: "
            "complete it with PATCH /v1/organisation before selling",
            errors=[{"field": field, "message": "is required to sell"} for field in missing],
        )


@router.get("", response_model=BookingPage)
async def list_all(
    query: Annotated[BookingListQuery, Query()],
    caller: ClientCaller,
    db: DbDep,
    settings: SettingsDep,
) -> BookingPage:
    """The organisation's bookings, oldest first, a page at a time: follow `next_cursor`.

    A booking made while paging comes in a later page if it sorts after the cursor; no booking
    is skipped or given twice. Every filter narrows the list (statuses among themselves widen).
    """
    cursors = ListCursors(settings.api_key_pepper, caller.organisation_id)
    where = query.filter(caller.organisation_id)
    found = await list_bookings(db, where, cursors.read(query.cursor), query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    next_cursor = cursors.write(ListPosition(page[-1].created_at, page[-1].id)) if more else None
    return BookingPage(
        items=[booking_out(b) for b in page], limit=query.limit, next_cursor=next_cursor
    )


@router.get("/{booking_id}", response_model=BookingOut)
async def read_booking(booking_id: str, caller: ClientCaller, db: DbDep) -> BookingOut:
    booking = await get_booking(db, booking_id, caller.organisation_id)
    return booking_out(booking).model_copy(update={"split_into": await _split_into(db, booking)})


async def _split_into(db: DbDep, booking: Booking) -> list[uuid.UUID]:
    """The bookings partial moves split off `booking`, oldest first."""
    found = await db.scalars(
        select(Booking.id)
        .where(Booking.split_from == booking.id)
        .order_by(Booking.created_at, Booking.id)
    )
    return list(found)


@router.get("/{booking_id}/receipt.pdf", response_class=Response, responses=_PDF)
async def receipt_pdf(booking_id: str, caller: ClientCaller, db: DbDep) -> Response:
    """The receipt, once the booking is confirmed (404 before)."""
    return _pdf(await get_document(db, booking_id, DocumentKind.RECEIPT, caller.organisation_id))


@router.get("/{booking_id}/credit-note.pdf", response_class=Response, responses=_PDF)
async def credit_note_pdf(
    booking_id: str,
    caller: ClientCaller,
    db: DbDep,
    number: Annotated[str | None, Query(max_length=64, description="One refund's")] = None,
) -> Response:
    """The latest credit note, or the one numbered `number` (a booking has one per refund;
    see its refunds); 404 before any refund."""
    document = await get_document(
        db, booking_id, DocumentKind.CREDIT_NOTE, caller.organisation_id, number
    )
    return _pdf(document)


@router.get("/{booking_id}/refunds", response_model=list[RefundOut])
async def list_refunds(booking_id: str, caller: ClientCaller, db: DbDep) -> list[RefundOut]:
    """Each refund of the booking, oldest first, with its credit note."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    rows = await db.execute(
        select(BookingRefund, Receipt.number)
        .outerjoin(
            Receipt,
            (Receipt.booking_id == BookingRefund.booking_id)
            & (Receipt.refund_sequence == BookingRefund.sequence),
        )
        .where(BookingRefund.booking_id == booking.id)
        .order_by(BookingRefund.sequence)
    )
    return [
        RefundOut.model_validate(refund, from_attributes=True).model_copy(
            update={"credit_note": number}
        )
        for refund, number in rows.all()
    ]


def _pdf(document: Receipt) -> Response:
    disposition = f'inline; filename="{document.number}.pdf"'
    return Response(
        document.pdf, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@router.post(
    "/{booking_id}/cancel",
    response_model=BookingOut,
    responses={
        202: {"model": BookingOut, "description": "Accepted: the cancel finishes durably"},
        409: {"description": "The booking cannot be cancelled in its state"},
    },
)
async def cancel_booking(
    booking_id: str,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    body: CancelIn | None = None,
) -> BookingOut | JSONResponse:
    """Cancel before payment (places released) or after it (refunded through Stripe).

    200 with the outcome when it comes within a few seconds, else 202 with the booking as it
    stands. Cancelling again answers the first cancel's outcome.
    """
    booking = await get_booking(db, booking_id, caller.organisation_id)
    request = await customer_cancel(db, booking, (body or CancelIn()).reason)
    return await _change(temporal, settings, db, booking, request)


_CHANGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": BookingOut, "description": "Accepted: the workflow finishes it durably"},
    409: {"description": "The booking is not CONFIRMED, or the session has started"},
}


@router.post("/{booking_id}/refunds", response_model=BookingOut, responses=_CHANGE_ANSWERS)
async def refund_booking(
    booking_id: str,
    body: RefundIn,
    caller: AdminCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BookingOut | JSONResponse:
    """Refund part or all of what remains paid (422 beyond it). The booking stays CONFIRMED
    until nothing remains paid, then it is REFUNDED and its places released; each refund has
    its credit note. The same Idempotency-Key answers the first request's outcome."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    order = RefundOrder(body.amount, body.reason)
    update_id = f"refund-{booking_id_for(str(caller.key_id), idempotency_key)}"
    return await _change(temporal, settings, db, booking, order, update_id)


@router.post("/{booking_id}/cancel-places", response_model=BookingOut, responses=_CHANGE_ANSWERS)
async def cancel_places(
    booking_id: str,
    body: PlacesCancelIn,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BookingOut | JSONResponse:
    """Give back some places of a CONFIRMED group booking before the session starts: each
    place given back refunds its share of what was paid, by the session's refund policy in
    force when the request was accepted, with a credit note; the places kept keep what was paid
    for them (never dearer). Refused (409) once the session is cancelled: it refunds in full.
    Cancelling every place is `/cancel`'s job (422). The same Idempotency-Key answers the first
    request's outcome."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    await check_places_changeable(db, booking)
    order = PlacesCancellation(body.seats, body.count or 0, body.reason)
    update_id = f"places-{booking_id_for(str(caller.key_id), idempotency_key)}"
    return await _change(temporal, settings, db, booking, order, update_id)


_MOVE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_CHANGE_ANSWERS,
    202: {
        "model": BookingOut,
        "description": "Accepted: the workflow finishes it durably; for a dearer target, with "
        "`move_payment`, the difference to pay before the move is made",
    },
    404: {"description": "No such session in the booking's organisation"},
    409: {
        "description": "The booking is not CONFIRMED, the move is past its session's cutoff, "
        "or the target has started, is cancelled, or sold out (with `available`)"
    },
}


@router.post("/{booking_id}/move", response_model=BookingOut, responses=_MOVE_ANSWERS)
async def move_booking(
    booking_id: str,
    body: MoveIn,
    caller: ClientCaller,
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BookingOut | JSONResponse:
    """Move the places of a CONFIRMED booking to another session of the same organisation:
    its places there are held first, then the source's released, so one session owns each
    place at every moment. A cheaper target refunds the difference by the source session's
    refund policy in force when the request was accepted, with a credit note; the same price
    moves no money; a dearer target answers 202 with `move_payment`, the difference to pay on a
    PaymentIntent of its own before the target's hold ends (unpaid, the move is abandoned and
    the booking stays as it was; paid, it moves). The booking keeps its id and reference;
    the customer gets an email with the old event cancelled and the new one (.ics), and
    webhooks `booking.moved`. With `seats` or `count`, only those places move: they become a
    new booking in the target (`moved_to` in the answer; `split_from` on it), paid with their
    share of what this booking paid (a cheaper target's difference refunded by this booking;
    a dearer one's asked as above, 202, and the new booking's once paid). The same
    Idempotency-Key answers the first request's outcome."""
    booking = await get_booking(db, booking_id, caller.organisation_id)
    await check_places_changeable(db, booking)
    order = MoveOrder(str(body.session_id), body.reason, body.seats, body.count or 0)
    partial = len(set(order.labels_of(booking.seat_labels))) < len(booking.seat_labels)
    update_id = f"move-{booking_id_for(str(caller.key_id), idempotency_key)}"
    return await _change(temporal, settings, db, booking, order, update_id, partial=partial)


async def _change(
    temporal: TemporalDep,
    settings: SettingsDep,
    db: DbDep,
    booking: Booking,
    change: Change,
    update_id: str | None = None,
    partial: bool = False,
) -> BookingOut | JSONResponse:
    """200 with the outcome when it comes within a few seconds, else 202 as it stands; a
    partial move's 200 names the booking it split off (`moved_to`): the last the workflow
    split when it answered this update, whatever came after."""
    key, status_now = str(booking.id), booking.status
    await db.rollback()  # hold no connection while the workflow works
    outcome = await change_within(temporal, settings, key, change, status_now, update_id)
    await db.refresh(booking)
    answer = _answer(booking, outcome)
    if partial and isinstance(answer, BookingOut) and outcome and outcome.split_into:
        split_into = await _split_into(db, booking)
        moved_to = uuid.UUID(outcome.split_into[-1])
        return answer.model_copy(update={"moved_to": moved_to, "split_into": split_into})
    return answer


def _answer(booking: Booking, outcome: BookingView | None) -> BookingOut | JSONResponse:
    """200 with the booking once the change is done, else 202 as it stands: with the
    difference to pay when a move to a dearer session waits for it."""
    if outcome is None:
        return JSONResponse(booking_out(booking).model_dump(mode="json"), status_code=202)
    if outcome.move_payment is None:
        return booking_out(booking)
    asked = outcome.move_payment
    payment = MovePaymentOut(
        payment_intent_id=asked.payment_intent_id,
        client_secret=asked.client_secret,
        amount=asked.amount,
        session_id=uuid.UUID(asked.session_id),
        expires_at=asked.expires_at,
    )
    shown = booking_out(booking).model_copy(update={"move_payment": payment})
    return JSONResponse(shown.model_dump(mode="json"), status_code=202)


def booking_out(booking: Booking, client_secret: str | None = None) -> BookingOut:
    """The one view of a booking the API gives, from its database mirror."""
    shown = public_booking(booking)
    payment = {
        **shown["payment"],
        "client_secret": client_secret,
        "stripe_account_id": booking.stripe_account_id,
    }
    return BookingOut.model_validate({**shown, "payment": payment})
