"""Render one attendee's ticket as a PDF: who it admits, to which session and when (as the
clocks read where the session happens), and the QR code of its signed ticket code."""

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from reportlab.lib.pagesizes import A6
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer

from documents.fonts import BOLD, REGULAR, paragraph, register_fonts
from documents.receipt_data import DEFAULT_LOCALE, format_moment
from documents.receipt_pdf import QrCode

_BODY = ParagraphStyle("ticket_body", fontName=REGULAR, fontSize=9, leading=11.5)
_NAME = ParagraphStyle("ticket_name", parent=_BODY, fontName=BOLD, fontSize=14, leading=17)
_QR_SIZE = 60 * mm


@dataclass(frozen=True)
class TicketData:
    seller_name: str
    attendee_name: str
    place: int  # 1-based: "place 2 of 3"
    places: int
    booking_reference: str
    session_title: str
    session_location: str
    session_starts_at: datetime
    session_ends_at: datetime
    session_time_zone: str
    code: str
    locale: str = DEFAULT_LOCALE


def render_ticket_pdf(data: TicketData) -> bytes:
    """The same data always gives the same bytes (reportlab's invariant mode)."""
    register_fonts()
    buffer = BytesIO()
    margin = 8 * mm
    document = SimpleDocTemplate(
        buffer,
        pagesize=A6,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"Ticket {data.booking_reference} {data.place}/{data.places}",
        author=data.seller_name,
        creator=data.seller_name,
        invariant=1,
    )
    starts = format_moment(data.session_starts_at, data.session_time_zone, data.locale)
    ends = format_moment(data.session_ends_at, data.session_time_zone, data.locale)
    code = QrCode(data.code, _QR_SIZE)
    code.hAlign = "CENTER"
    story: list[Flowable] = [
        paragraph(data.attendee_name, _NAME),
        paragraph(data.session_title, _BODY),
        paragraph(data.session_location, _BODY),
        paragraph(f"{starts} to {ends}", _BODY),
        paragraph(f"Booking {data.booking_reference}, place {data.place} of {data.places}", _BODY),
        Spacer(1, 3 * mm),
        code,
        paragraph(data.seller_name, _BODY),
    ]
    document.build(story)
    return buffer.getvalue()
