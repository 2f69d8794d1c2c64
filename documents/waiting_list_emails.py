"""The waiting list's emails: an offer (with its accept link and deadline; told again with its
new deadline when the session's earlier start capped it), its lapse, and the list's end; in the
organisation's name, locale and the session's time zone."""

from core.enums import WaitingEntryState
from documents.emails import RenderedEmail, render_templates
from documents.receipt_data import format_moment
from models.tables import Organisation, Session, WaitingListEntry

_SUBJECTS = {
    WaitingEntryState.OFFERED: "Places for you: {title}",
    WaitingEntryState.EXPIRED: "Your offer for {title} has lapsed",
    WaitingEntryState.CLOSED: "The waiting list for {title} has closed",
}
# An offer whose deadline was capped at the session's earlier start, told again.
_CAPPED_SUBJECT = "New deadline for your places: {title}"


def render_waiting_list_email(
    state: WaitingEntryState,
    entry: WaitingListEntry,
    session: Session,
    organisation: Organisation,
    accept_url: str,
) -> RenderedEmail:
    zone, locale = session.time_zone, organisation.locale
    capped = state == WaitingEntryState.OFFERED and entry.offer_caps > 0
    values: dict[str, str | bool | None] = {
        "customer_name": entry.customer_name,
        "reference": None,
        "booking_id": f"waiting-list entry {entry.id}",
        "session_title": session.title,
        "session_location": session.location,
        "starts": format_moment(session.starts_at, zone, locale),
        "ends": format_moment(session.ends_at, zone, locale),
        "seller_name": organisation.legal_name,
        "places": ", ".join(entry.offer_seat_labels),
        "deadline": (
            format_moment(entry.offer_expires_at, zone, locale) if entry.offer_expires_at else None
        ),
        "accept_url": accept_url,
        "deadline_capped": capped,
    }
    subject = _CAPPED_SUBJECT if capped else _SUBJECTS[state]
    return render_templates(f"waiting_list_{state}", subject.format(title=session.title), values)
