"""Render a certificate of attendance as a PDF: who attended which course, on which day, for how
many hours, in the organisation's name, with its number and the verification code (as text and
as a QR code) that `GET /v1/certificates/{code}` checks. The attendee's name prints in its own
script (documents/fonts.py)."""

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer

from documents.fonts import BOLD, REGULAR, paragraph, register_fonts
from documents.receipt_data import DEFAULT_LOCALE, format_date
from documents.receipt_pdf import QrCode

_BODY = ParagraphStyle(
    "certificate_body", fontName=REGULAR, fontSize=12, leading=16, alignment=TA_CENTER
)
_SMALL = ParagraphStyle("certificate_small", parent=_BODY, fontSize=8, leading=10)
_TITLE = ParagraphStyle("certificate_title", parent=_BODY, fontName=BOLD, fontSize=26, leading=32)
_NAME = ParagraphStyle("certificate_name", parent=_BODY, fontName=BOLD, fontSize=22, leading=28)
_COURSE = ParagraphStyle("certificate_course", parent=_BODY, fontName=BOLD, fontSize=16, leading=20)
_QR_SIZE = 28 * mm


@dataclass(frozen=True)
class CertificateData:
    number: str
    seller_name: str
    attendee_name: str
    course_title: str
    session_location: str
    session_starts_at: datetime
    session_ends_at: datetime
    session_time_zone: str
    verification_code: str
    locale: str = DEFAULT_LOCALE


def hours(starts_at: datetime, ends_at: datetime) -> str:
    """The session's length for people: "3 hours", "7.5 hours", "1 hour", "0.25 hours"."""
    value = round((ends_at - starts_at).total_seconds() / 3600, 2)
    shown = f"{value:g}"
    return f"{shown} hour" if shown == "1" else f"{shown} hours"


def render_certificate_pdf(data: CertificateData) -> bytes:
    """The same data always gives the same bytes (reportlab's invariant mode)."""
    register_fonts()
    buffer = BytesIO()
    margin = 20 * mm
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"Certificate of attendance {data.number}",
        author=data.seller_name,
        creator=data.seller_name,
        invariant=1,
    )
    day = format_date(data.session_starts_at, data.session_time_zone, data.locale)
    code = QrCode(data.verification_code, _QR_SIZE)
    code.hAlign = "CENTER"
    story: list[Flowable] = [
        paragraph(data.seller_name, _BODY),
        Spacer(1, 6 * mm),
        paragraph("Certificate of attendance", _TITLE),
        Spacer(1, 6 * mm),
        paragraph("This certifies that", _BODY),
        Spacer(1, 2 * mm),
        paragraph(data.attendee_name, _NAME),
        Spacer(1, 2 * mm),
        paragraph("attended", _BODY),
        paragraph(data.course_title, _COURSE),
        paragraph(data.session_location, _BODY),
        paragraph(f"on {day}, {hours(data.session_starts_at, data.session_ends_at)}", _BODY),
        Spacer(1, 8 * mm),
        code,
        paragraph(f"Certificate {data.number}", _SMALL),
        paragraph(f"Verification code: {data.verification_code}", _SMALL),
    ]
    document.build(story)
    return buffer.getvalue()
