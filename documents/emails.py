"""Render customer emails (subject, HTML and plain text) from Jinja2 templates."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.enums import EmailKind
from documents.receipt_data import DEFAULT_LOCALE, format_moment, format_money

# Each kind names its templates, <kind>.html.j2 and <kind>.txt.j2, and its subject.
TEMPLATES = Path(__file__).parent / "templates"
_SUBJECTS = {
    EmailKind.CONFIRMATION: "Booking confirmed: {title}{ref}",
    EmailKind.HOLD_EXPIRED: "Your hold on {title} has expired{ref}",
    EmailKind.CANCELLED: "Booking cancelled: {title}{ref}",
    EmailKind.REFUNDED: "Refund issued: {title}{ref}",
    EmailKind.LATE_PAYMENT_REFUNDED: "Your payment for {title} has been refunded{ref}",
    EmailKind.REMINDER: "Reminder: {title} starts {starts}{ref}",
    EmailKind.SESSION_CANCELLED: "Session cancelled: {title}{ref}",
    EmailKind.PARTLY_REFUNDED: "Partial refund issued: {title}{ref}",
    EmailKind.MOVED: "Booking moved: {title} on {starts}{ref}",
    EmailKind.CERTIFICATE: "Certificate of attendance: {title}{ref}",
    EmailKind.SESSION_CHANGED: "Session changed: {title}{ref}",
}
# Without a refund amount these emails would have nothing to say.
_NEEDS_REFUND = frozenset(
    {EmailKind.REFUNDED, EmailKind.LATE_PAYMENT_REFUNDED, EmailKind.PARTLY_REFUNDED}
)


@dataclass(frozen=True, kw_only=True)
class EmailContext:
    customer_name: str
    # None until the booking is confirmed and given its human reference.
    booking_reference: str | None
    booking_id: str
    session_title: str
    session_location: str
    session_starts_at: datetime
    session_ends_at: datetime
    amount_total: int
    currency: str
    refund_amount: int | None = None
    seller_name: str
    # Times print as the clocks read where the session happens.
    session_time_zone: str = "UTC"
    locale: str = DEFAULT_LOCALE
    # A move's email: the session the booking left (None when the ledger no longer says).
    moved_from_title: str | None = None
    moved_from_starts_at: datetime | None = None
    # A partial move's email: the reference of the booking the places moved came from.
    split_from_reference: str | None = None
    # The attendee a certificate's email is about (None in every other email).
    attendee_name: str | None = None
    # A session's change: what changed, a line each, and until when a cancel is refunded in
    # full (`documents.session_change_email`).
    changes: str = ""
    refund_in_full_until: datetime | None = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render_email(kind: EmailKind, context: EmailContext) -> RenderedEmail:
    """The email of `kind` for `context`."""
    if kind in _NEEDS_REFUND and context.refund_amount is None:
        raise ValueError(f"a {kind!r} email needs refund_amount")
    if kind == EmailKind.CERTIFICATE and context.attendee_name is None:
        raise ValueError("a certificate's email needs attendee_name")
    values = _template_values(context)
    ref = f" ({context.booking_reference})" if context.booking_reference else ""
    subject = _SUBJECTS[kind].format(title=context.session_title, starts=values["starts"], ref=ref)
    return render_templates(kind, subject, values)


def render_templates(
    name: str, subject: str, values: dict[str, str | bool | None]
) -> RenderedEmail:
    """<name>.html.j2 and <name>.txt.j2 rendered with `values` under `subject`."""
    # A newline in a session title must not reach the Subject header.
    subject = values["subject"] = " ".join(subject.split())
    environment = _environment()
    html = environment.get_template(f"{name}.html.j2").render(values)
    text = environment.get_template(f"{name}.txt.j2").render(values)
    return RenderedEmail(subject=subject, html=html, text=text)


def _template_values(context: EmailContext) -> dict[str, str | bool | None]:
    refund = context.refund_amount
    zone, locale = context.session_time_zone, context.locale
    return {
        "customer_name": context.customer_name,
        "reference": context.booking_reference,
        "booking_id": context.booking_id,
        "session_title": context.session_title,
        "session_location": context.session_location,
        "starts": format_moment(context.session_starts_at, zone, locale),
        "ends": format_moment(context.session_ends_at, zone, locale),
        "amount": format_money(context.amount_total, context.currency, locale),
        "free": context.amount_total == 0,
        # A paid booking cancelled when its refund policy gives nothing back.
        "no_refund": refund == 0,
        "refund": None if refund is None else format_money(refund, context.currency, locale),
        "seller_name": context.seller_name,
        "moved_from_title": context.moved_from_title,
        "moved_from_starts": (
            format_moment(context.moved_from_starts_at, zone, locale)
            if context.moved_from_starts_at
            else None
        ),
        "split_from_reference": context.split_from_reference,
        "attendee_name": context.attendee_name,
        "changes": context.changes,
        "refund_in_full_until": (
            format_moment(context.refund_in_full_until, zone, locale)
            if context.refund_in_full_until
            else None
        ),
    }


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
