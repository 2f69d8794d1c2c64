"""One email of a booking sent again: its ledger row cleared (at most one email per (booking,
kind) is the ledger's rule), then the email activity's own code run in this process with the
request the workflow sent."""

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.mail import make_mailer
from activities.notifications import NotificationActivities, notification_key
from core.enums import DeliveryOutcome, EmailKind, NotificationStatus
from core.errors import BookingError
from core.settings import Settings
from messages.booking import EmailRequest, booking_workflow_id
from models.tables import Notification
from store.booking_records import get_booking


class MailServiceFailed(Exception):
    """The mail service failed this time; the row is marked failed, to be sent again."""


@dataclass(frozen=True)
class Resent:
    status: DeliveryOutcome
    recipient: str
    error: str | None


async def clear_sent(
    db: async_sessionmaker[AsyncSession], booking_id: str, kind: EmailKind, refund: int | None
) -> None:
    """Delete the email's ledger row (sent or failed) so it may be sent again.
    BookingError if the booking does not exist, the email was never sent, or it is being sent."""
    key = notification_key(booking_id, kind, refund)
    async with db.begin() as s:
        await get_booking(s, booking_id)
        row = await s.get(Notification, key, with_for_update=True)
        if row is None:
            raise BookingError(f"no {kind} email was ever sent for booking {booking_id}")
        if row.status == NotificationStatus.SENDING:
            raise BookingError(
                f"the {kind} email of booking {booking_id} is being sent right now: try again "
                "in a minute"
            )
        await s.delete(row)


async def send_again(
    db: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    booking_id: str,
    kind: EmailKind,
    refund: int | None,
) -> Resent:
    """Send the cleared email with the request the workflow sent it with, through this
    settings' mail service; MailServiceFailed when the service fails."""
    key = notification_key(booking_id, kind, refund)
    request = await _email_sent(temporal, booking_id, kind, refund)
    notifications = NotificationActivities(db, make_mailer(settings), settings.email_from)
    try:
        outcome = await notifications.send(request)
    except ApplicationError as err:
        await _mark_failed(db, key, str(err))
        raise MailServiceFailed(str(err)) from err
    async with db() as s:
        sent = await s.get(Notification, key)
        assert sent is not None
        return Resent(outcome.status, sent.recipient, sent.last_error)


async def _email_sent(
    temporal: Client, booking_id: str, kind: EmailKind, refund: int | None
) -> EmailRequest:
    """The request the workflow sent this email with (its refund amount, if any)."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        history = await handle.fetch_history()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return EmailRequest(booking_id, kind)
    for event in history.events:
        attrs = event.activity_task_scheduled_event_attributes
        if (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and attrs.activity_type.name == "send_email"
        ):
            payloads = list(attrs.input.payloads)
            [sent] = await temporal.data_converter.decode(payloads, [EmailRequest])
            if sent.kind == kind and (refund is None or sent.refund_sequence == refund):
                return sent  # type: ignore[no-any-return]
    return EmailRequest(booking_id, kind, refund_sequence=refund)


async def _mark_failed(db: async_sessionmaker[AsyncSession], key: str, error: str) -> None:
    async with db.begin() as s:
        await s.execute(
            update(Notification)
            .where(Notification.key == key)
            .values(status=NotificationStatus.FAILED, last_error=error)
        )
