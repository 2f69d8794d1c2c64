"""Customer emails: at most one per (booking, kind), whatever crashes and retries happen."""

import uuid
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mail import Attachment, Mailer, MailRefused, MailUnavailable, OutgoingEmail
from core.enums import (
    BookingStatus,
    DeliveryOutcome,
    DocumentKind,
    EmailKind,
    NotificationStatus,
)
from core.settings import get_settings
from documents.calendar_file import CalendarMethod, render_ics
from documents.emails import EmailContext, RenderedEmail, render_email
from documents.session_change_email import change_lines
from documents.ticket_pdf import TicketData, render_ticket_pdf
from messages.booking import EmailOutcome, EmailRequest
from messages.session_changes import keyed_session
from models.tables import (
    Booking,
    Certificate,
    Notification,
    Organisation,
    Receipt,
    Session,
    SessionChange,
)
from store.certificates import find_certificate
from store.tickets import booking_tickets


def notification_key(
    booking_id: str,
    kind: str,
    sequence: int | None = None,
    *,
    move_number: int | None = None,
    attendee_index: int | None = None,
    reissue: int = 0,
    change_session_id: str | None = None,
) -> str:
    """One email per (booking, kind), but (`NUMBERED_EMAILS`): one per refund or change of the
    session for those emails (`sequence`); one per move for a move's email and the reminder of
    a booking that moved; one per place and reissue for certificates:
    `<booking>:certificate:<place index>[:<reissue>]`. A change of a session a booking moved
    to or from names that session: `<booking>:session_changed:<sequence>:<session>`
    (`keyed_session`)."""
    key = f"{booking_id}:{kind}"
    if kind == EmailKind.CERTIFICATE:
        key = f"{key}:{attendee_index}"
        return f"{key}:{reissue}" if reissue else key
    if kind == EmailKind.SESSION_CHANGED and change_session_id:
        return f"{key}:{sequence}:{change_session_id}"
    if kind in (EmailKind.PARTLY_REFUNDED, EmailKind.SESSION_CHANGED):
        return f"{key}:{sequence}"
    if kind in (EmailKind.MOVED, EmailKind.REMINDER) and move_number:
        return f"{key}:{move_number}"
    return key


def email_key(request: EmailRequest) -> str:
    """The key of the email `request` asks for."""
    changed = request.kind == EmailKind.SESSION_CHANGED
    return notification_key(
        request.booking_id,
        request.kind,
        request.change_sequence if changed else request.refund_sequence,
        move_number=request.move_number,
        attendee_index=request.attendee_index,
        reissue=request.reissue,
        change_session_id=request.change_session_id,
    )


def sellers_email(
    key: str,
    from_email: str,
    organisation: Organisation,
    to: tuple[str, str],
    rendered: RenderedEmail,
    attachments: list[Attachment] | None = None,
) -> OutgoingEmail:
    """An email to `to` (address, name) in the organisation's name: from the platform's
    address under its sender name, replies to its reply-to address."""
    return OutgoingEmail(
        key=key,
        to_email=to[0],
        to_name=to[1],
        from_email=from_email,
        from_name=organisation.email_sender_name,
        reply_to=organisation.reply_to,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        attachments=attachments or [],
    )


def _last_attempt() -> bool:
    """Whether Temporal will not run this activity again if this attempt fails."""
    if not activity.in_activity():
        return False
    info = activity.info()
    most = info.retry_policy.maximum_attempts if info.retry_policy else 0
    return 0 < most <= info.attempt


# The emails that carry the credit note of their refund, when there is one.
_REFUND_EMAILS = frozenset(
    {EmailKind.REFUNDED, EmailKind.PARTLY_REFUNDED, EmailKind.CANCELLED, EmailKind.MOVED}
)


class NotificationActivities:
    """Emails in the name of the organisation that sells the booking's session: from the
    platform's address (`from_email`) under its sender name, replies to its reply-to address,
    its legal name in the text and the signature, dates and money in its locale."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        from_email: str,
        ticket_keys: list[str] | None = None,
    ):
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._from = from_email
        # The keys that sign the confirmation's tickets (BOOKING_TICKET_SIGNING_KEYS unless given).
        self._ticket_keys = ticket_keys or get_settings().ticket_signing_keys

    @activity.defn(name="send_email")
    async def send(self, request: EmailRequest) -> EmailOutcome:
        """Record the intent, check for an earlier attempt that got through, send, record.

        At the retry policy's last attempt a failure is recorded as FAILED, not left SENDING:
        the safety net sends it again later and reconcile reports it."""
        request = await self._keyed(request)
        key = email_key(request)
        try:
            return await self._send(request, key)
        except Exception as err:
            if not _last_attempt():
                raise
            activity.logger.error("email %s given up at its last attempt: %r", key, err)
            await self._record_outcome(key, NotificationStatus.FAILED, f"last attempt: {err!r}")
            return EmailOutcome(key, DeliveryOutcome.REFUSED)

    async def _keyed(self, request: EmailRequest) -> EmailRequest:
        """A change's email as its key names it: a booking that never moved names no session
        (`keyed_session`)."""
        if request.change_session_id is None:
            return request
        async with self._sessionmaker() as db:
            moves = await db.scalar(
                select(Booking.moves).where(Booking.id == uuid.UUID(request.booking_id))
            )
        session_id = keyed_session(moves or 0, request.change_session_id)
        return replace(request, change_session_id=session_id)

    async def _send(self, request: EmailRequest, key: str) -> EmailOutcome:
        email = await self._compose(request, key)
        status, attempts = await self._record_intent(request, key, email.to_email)
        if status == NotificationStatus.SENT:
            return EmailOutcome(key, DeliveryOutcome.ALREADY_SENT)
        if status == NotificationStatus.FAILED:
            return EmailOutcome(key, DeliveryOutcome.REFUSED)
        if attempts > 1 and await self._sent_earlier(key):
            # An earlier attempt sent it and died before recording: do not send twice.
            await self._record_outcome(key, NotificationStatus.SENT)
            return EmailOutcome(key, DeliveryOutcome.ALREADY_SENT)
        try:
            await self._mailer.send(email)
        except MailRefused as err:
            await self._record_outcome(key, NotificationStatus.FAILED, str(err))
            return EmailOutcome(key, DeliveryOutcome.REFUSED)
        except MailUnavailable as err:
            await self._record_outcome(key, NotificationStatus.SENDING, str(err))
            raise ApplicationError(str(err), type="MailUnavailable") from err
        await self._record_outcome(key, NotificationStatus.SENT)
        return EmailOutcome(key, DeliveryOutcome.SENT)

    async def _sent_earlier(self, key: str) -> bool:
        """Whether an earlier attempt got through and died before recording it.

        When the provider will never tell (SendGrid's Email Activity API is a paid add-on: 401
        or 403 without it), send again: at least once (invariant I4) beats never. A passing
        failure of the query (429, 5xx, timeout) raises, and Temporal retries the activity.
        """
        try:
            return await self._mailer.was_sent(key)
        except MailRefused as err:
            activity.logger.warning("cannot tell whether %s was sent, sending: %s", key, err)
            return False
        except MailUnavailable as err:
            raise ApplicationError(str(err), type="MailUnavailable") from err

    async def _record_intent(
        self, request: EmailRequest, key: str, recipient: str
    ) -> tuple[str, int]:
        async with self._sessionmaker.begin() as db:
            row = await db.execute(
                insert(Notification)
                .values(
                    key=key,
                    booking_id=uuid.UUID(request.booking_id),
                    kind=request.kind,
                    recipient=recipient,
                    status=NotificationStatus.SENDING,
                    attempts=1,
                )
                .on_conflict_do_update(
                    index_elements=["key"],
                    set_={"attempts": Notification.attempts + 1},
                )
                .returning(Notification.status, Notification.attempts)
            )
            status, attempts = row.one()
            return status, attempts

    async def _record_outcome(
        self, key: str, status: NotificationStatus, error: str | None = None
    ) -> None:
        async with self._sessionmaker.begin() as db:
            await db.execute(
                update(Notification)
                .where(Notification.key == key)
                .values(
                    status=status,
                    last_error=error,
                    sent_at=func.now() if status == NotificationStatus.SENT else None,
                )
            )

    async def _compose(self, request: EmailRequest, key: str) -> OutgoingEmail:
        ticketed = request.kind in _TICKET_EMAILS
        async with self._sessionmaker() as db:
            booking = await db.get(Booking, uuid.UUID(request.booking_id))
            assert booking is not None, f"no booking {request.booking_id}"
            session = await db.get(Session, booking.session_id)
            assert session is not None
            left, split_from = None, None
            if request.moved_from_session_id is not None:
                left = await db.get_one(Session, uuid.UUID(request.moved_from_session_id))
            if request.kind == EmailKind.MOVED and booking.split_from and not booking.moves:
                split_from = await db.get_one(Booking, booking.split_from)
            organisation = await db.get_one(Organisation, session.organisation_id)
            certificate = None
            if request.kind == EmailKind.CERTIFICATE:
                assert request.attendee_index is not None, "a certificate's email names its place"
                certificate = await find_certificate(db, booking.id, request.attendee_index)
                assert certificate is not None, f"no certificate for {key}"
            change = await _change_told(db, request, booking.session_id)
            # The receipt, and the credit note of this email's refund.
            documents = {
                DocumentKind(r.kind): r
                for r in await db.scalars(
                    select(Receipt).where(
                        Receipt.booking_id == booking.id,
                        # Its own receipt, not one of a dearer move's difference.
                        (Receipt.kind == DocumentKind.RECEIPT) & Receipt.move_number.is_(None)
                        | (Receipt.kind == DocumentKind.CREDIT_NOTE)
                        & Receipt.refund_sequence.is_not_distinct_from(request.refund_sequence),
                    )
                )
            }
        # A change's email tells the session as that change left it, whatever came since.
        event = change or session
        rendered = render_email(
            request.kind,
            EmailContext(
                customer_name=booking.customer_name,
                booking_reference=booking.reference,
                booking_id=str(booking.id),
                session_title=event.title,
                session_location=event.location,
                session_starts_at=event.starts_at,
                session_ends_at=event.ends_at,
                session_time_zone=session.time_zone,
                locale=organisation.locale,
                amount_total=booking.amount_total,
                currency=booking.currency,
                refund_amount=request.refund_amount,
                seller_name=organisation.legal_name,
                moved_from_title=left.title if left else None,
                moved_from_starts_at=left.starts_at if left else None,
                split_from_reference=split_from.reference if split_from else None,
                attendee_name=certificate.attendee_name if certificate else None,
                changes=(
                    change_lines(change.changes, session.time_zone, organisation.locale)
                    if change
                    else ""
                ),
                refund_in_full_until=change.refund_in_full_until if change else None,
            ),
        )
        return sellers_email(
            key,
            self._from,
            organisation,
            (booking.customer_email, booking.customer_name),
            rendered,
            [
                *self._attachments(request.kind, booking, session, documents),
                *(self._move_calendars(booking, session, left) if left else []),
                *self._change_calendar(booking, session, change),
                *(self._tickets(booking, session, organisation) if ticketed else []),
                *([_certificate_pdf(certificate)] if certificate else []),
            ],
        )

    def _attachments(
        self,
        kind: EmailKind,
        booking: Booking,
        session: Session,
        documents: dict[DocumentKind, Receipt],
    ) -> list[Attachment]:
        attachments = []
        if kind == EmailKind.CONFIRMATION and DocumentKind.RECEIPT in documents:
            receipt = documents[DocumentKind.RECEIPT]
            attachments += [
                Attachment(f"receipt-{receipt.number}.pdf", "application/pdf", receipt.pdf),
                self._calendar(booking, session, CalendarMethod.PUBLISH),
            ]
        if kind in _REFUND_EMAILS and DocumentKind.CREDIT_NOTE in documents:
            note = documents[DocumentKind.CREDIT_NOTE]
            attachments.append(
                Attachment(f"credit-note-{note.number}.pdf", "application/pdf", note.pdf)
            )
        if kind in _ENDS_THE_BOOKING and _calendar_holds_it(booking):
            attachments.append(self._calendar(booking, session, CalendarMethod.CANCEL))
        return attachments

    def _change_calendar(
        self, booking: Booking, session: Session, change: SessionChange | None
    ) -> list[Attachment]:
        """A change's email carries the event as the change left it, to a booking whose
        confirmation carried it (one still unpaid gets it with its confirmation)."""
        if change is None or booking.confirmed_at is None:
            return []
        return [self._calendar(booking, session, CalendarMethod.PUBLISH, change=change)]

    def _tickets(
        self, booking: Booking, session: Session, organisation: Organisation
    ) -> list[Attachment]:
        """One PDF per place, each with its attendee's signed ticket as a QR code."""
        assert booking.reference is not None
        tickets = booking_tickets(booking, organisation.id, self._ticket_keys)
        return [
            Attachment(
                f"ticket-{booking.reference}-{ticket.index + 1}.pdf",
                "application/pdf",
                render_ticket_pdf(
                    TicketData(
                        seller_name=organisation.legal_name,
                        attendee_name=ticket.name,
                        place=ticket.index + 1,
                        places=len(tickets),
                        booking_reference=booking.reference,
                        session_title=session.title,
                        session_location=session.location,
                        session_starts_at=session.starts_at,
                        session_ends_at=session.ends_at,
                        session_time_zone=session.time_zone,
                        code=ticket.code,
                        locale=organisation.locale,
                    )
                ),
            )
            for ticket in tickets
        ]

    def _move_calendars(
        self, booking: Booking, session: Session, left: Session
    ) -> list[Attachment]:
        """A move's email: the event of the session left cancelled (the UID it was sent
        under), and the new one's event under a UID of its own. A booking split off by a
        partial move (not moved since) has its first event: the one left stays the first
        booking's."""
        if booking.split_from is not None and booking.moves == 0:
            return [self._calendar(booking, session, CalendarMethod.PUBLISH, 0)]
        gone = self._calendar(booking, left, CalendarMethod.CANCEL, booking.moves - 1)
        return [gone, self._calendar(booking, session, CalendarMethod.PUBLISH, booking.moves)]

    def _calendar(
        self,
        booking: Booking,
        session: Session,
        method: CalendarMethod,
        moves: int | None = None,
        change: SessionChange | None = None,
    ) -> Attachment:
        """The confirmation's event, a change's (as the change left it) or its cancellation:
        the same UID, the SEQUENCE the session's changes have reached (a cancellation's one
        more). A booking that moved has an event per session, each under a UID of its own
        (`moves`: how often it had moved then; None: as often as now)."""
        cancelled = method == CalendarMethod.CANCEL
        stamp = booking.updated_at if cancelled else booking.confirmed_at or booking.created_at
        if moves is not None:
            stamp = booking.updated_at
        event: Session | SessionChange = session
        sequence = session.calendar_sequence + (1 if cancelled else 0)
        if change is not None:
            event, stamp, sequence = change, change.created_at, change.sequence
        content = render_ics(
            uid=event_uid(booking.id, booking.moves if moves is None else moves),
            summary=event.title,
            location=event.location,
            description=f"Booking {booking.reference}: {booking.quantity} place(s)",
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            time_zone=session.time_zone,
            organizer_email=self._from,
            created_at=stamp,
            method=method,
            sequence=sequence,
        )
        filename = "session-cancelled.ics" if cancelled else "session.ics"
        return Attachment(filename, "text/calendar", content)


def event_uid(booking_id: uuid.UUID, moves: int) -> str:
    """The calendar event of the booking in the session it was in after `moves` moves."""
    return f"{booking_id}@booking-engine" if moves == 0 else f"{booking_id}-{moves}@booking-engine"


def _certificate_pdf(certificate: Certificate) -> Attachment:
    return Attachment(f"certificate-{certificate.number}.pdf", "application/pdf", certificate.pdf)


async def _change_told(
    db: AsyncSession, request: EmailRequest, session_id: uuid.UUID
) -> SessionChange | None:
    """The change a SESSION_CHANGED email tells: of the session it names, else of the
    booking's (`session_id`); None for other emails."""
    if request.change_sequence is None:
        return None
    if request.change_session_id is not None:
        session_id = uuid.UUID(request.change_session_id)
    return await db.scalar(
        select(SessionChange).where(
            SessionChange.session_id == session_id,
            SessionChange.sequence == request.change_sequence,
        )
    )


# Emails that carry the booking's tickets: the confirmation's, and a move's for the session moved
# to (a ticket signs its session: the ones held before are refused at the new door).
_TICKET_EMAILS = frozenset({EmailKind.CONFIRMATION, EmailKind.MOVED})

# Emails that end a booking: a calendar that holds its event is told to drop it.
_ENDS_THE_BOOKING = frozenset(
    {EmailKind.CANCELLED, EmailKind.REFUNDED, EmailKind.SESSION_CANCELLED}
)


def _calendar_holds_it(booking: Booking) -> bool:
    """Confirmed once (its confirmation carried the event) and now over: a partial refund
    leaves the booking, and its event, standing."""
    ended = booking.status in (BookingStatus.CANCELLED, BookingStatus.REFUNDED)
    return booking.confirmed_at is not None and ended
