"""Render a receipt or credit note as an A4 PDF, from data alone: one page as a rule, more when
its text is long (any input the API accepts lays out)."""

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from io import BytesIO

import qrcode
import qrcode.constants
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle

from core.enums import DocumentKind
from documents.fonts import BOLD, REGULAR, paragraph, register_fonts
from documents.logo_drawing import logo_flowable
from documents.receipt_data import (
    ReceiptData,
    format_date,
    format_moment,
    format_money,
    format_rate,
)

# The frame keeps 6 pt of padding on each side inside the 20 mm margins.
_WIDTH = A4[0] - 40 * mm - 12
_GREY = colors.HexColor("#555555")
_RULE = colors.HexColor("#BBBBBB")
_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=9.5, leading=12.5)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8.5, leading=11, textColor=_GREY)
_SELLER = ParagraphStyle("seller", parent=_BODY, fontName=BOLD, fontSize=13, leading=16)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName=BOLD, fontSize=18, leading=22)
_HEADING = ParagraphStyle("heading", parent=_BODY, fontName=BOLD, spaceBefore=8)
_RIGHT = ParagraphStyle("right", parent=_BODY, alignment=TA_RIGHT)
_BOLD = ParagraphStyle("bold", parent=_BODY, fontName=BOLD)
_BOLD_RIGHT = ParagraphStyle("bold_right", parent=_BOLD, alignment=TA_RIGHT)
_SMALL_BLACK = ParagraphStyle(
    "small_black", parent=_SMALL, fontSize=8, leading=10, textColor=colors.black
)
_LONG_ATTENDEES = 600
# reportlab cannot split one table row across pages, so no row holds more text than this:
# about 15 lines at most (CJK, the widest script, at 9.5 pt), far less than a page. A longer
# text continues in the rows below it, and the table breaks between rows.
_ROW_CHARS = 600
_QR_SIZE = 30 * mm
# Stripe's card brand codes, as people write them.
_CARD_BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}


def render_receipt_pdf(data: ReceiptData) -> bytes:
    """The PDF's bytes: the same data always gives the same bytes, so a retry reproduces it.

    UnreadableLogo (documents.logo_drawing) when the seller's logo cannot be drawn."""
    register_fonts()
    buffer = BytesIO()
    title = f"{_kind_title(data)} {data.number}"
    # The seller's footer text, above the line every page ends with.
    footer = [paragraph(line, _SMALL) for line in _footer_lines(data.seller.footer)]
    footer_heights = [p.wrap(_WIDTH, A4[1])[1] for p in footer]
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm + sum(footer_heights),
        title=title,
        author=data.seller.name,
        subject=f"Booking {data.booking_reference}",
        creator=data.seller.name,
        invariant=1,
    )
    story: list[Flowable] = [
        _header(data),
        Spacer(1, 6 * mm),
        paragraph(title, _TITLE),
        *_facts(data),
        *_session(data),
        Spacer(1, 5 * mm),
        _amounts(data),
        Spacer(1, 5 * mm),
        paragraph(_payment_method(data), _BODY),
    ]

    def decorate_page(canvas: Canvas, _document: SimpleDocTemplate) -> None:
        # invariant=1 stamps 2000-01-01; the issue date is just as stable and means something.
        canvas.setDateFormatter(lambda *_clock: _pdf_date(data.issued_at))
        canvas.saveState()
        canvas.setFont(_SMALL.fontName, _SMALL.fontSize)
        canvas.setFillColor(_GREY)
        canvas.drawString(document.leftMargin + 6, 12 * mm, _footer(data))
        top = 16 * mm + sum(footer_heights)
        for line, height in zip(footer, footer_heights, strict=True):
            top -= height
            line.drawOn(canvas, document.leftMargin + 6, top)
        canvas.restoreState()

    document.build(story, onFirstPage=decorate_page, onLaterPages=decorate_page)
    return buffer.getvalue()


def _pdf_date(moment: datetime) -> str:
    return f"D:{moment.astimezone(UTC):%Y%m%d%H%M%S}+00'00'"


def _kind_title(data: ReceiptData) -> str:
    return "Credit note" if data.kind == DocumentKind.CREDIT_NOTE else "Receipt"


def _footer_lines(footer: str | None) -> list[str]:
    return [line for line in (footer or "").splitlines() if line.strip()]


def _header(data: ReceiptData) -> Table:
    seller = data.seller
    lines: list[Flowable] = []
    if seller.logo is not None:
        lines += [logo_flowable(seller.logo), Spacer(1, 3 * mm)]
    lines.append(paragraph(seller.name, _SELLER))
    lines += [paragraph(line, _BODY) for line in seller.address_lines]
    if seller.vat_number:
        lines.append(paragraph(f"VAT number: {seller.vat_number}", _BODY))
    # A receipt's QR code is its booking's first ticket (the reference, guessable, on documents
    # without one: credit notes, and receipts issued before tickets).
    qr_value = data.ticket_code or data.booking_reference
    code = [_qr_code(qr_value), paragraph(data.booking_reference, _RIGHT)]
    table = Table(
        [[lines, code]], colWidths=[_WIDTH - _QR_SIZE - 10 * mm, _QR_SIZE + 10 * mm], hAlign="LEFT"
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


class QrCode(Flowable):
    """A QR code (the `qrcode` library's module matrix, quiet zone included) drawn straight
    onto the canvas as one filled path of dark runs.

    reportlab's QrCodeWidget builds a shape object per run and renders them one by one,
    which was half of a receipt's rendering time.
    """

    def __init__(self, value: str, size: float):
        super().__init__()
        # border=4: four modules of quiet zone, as the QR standard asks.
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        code.add_data(value)
        code.make(fit=True)
        self._modules: list[list[bool]] = code.get_matrix()
        self._size = size
        self.hAlign = "RIGHT"

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self._size, self._size

    def draw(self) -> None:
        box = self._size / len(self._modules)
        path = self.canv.beginPath()
        for r, row in enumerate(self._modules):
            top = self._size - (r + 1) * box
            c = 0
            for dark, run in itertools.groupby(row):
                count = len(list(run))
                if dark:
                    path.rect(c * box, top, count * box, box)
                c += count
        self.canv.drawPath(path, stroke=0, fill=1)


def _qr_code(value: str) -> Flowable:
    return QrCode(value, _QR_SIZE)


def _facts(data: ReceiptData) -> list[Flowable]:
    label = "Credit note number" if data.kind == DocumentKind.CREDIT_NOTE else "Receipt number"
    rows = [(label, data.number)]
    if data.refers_to is not None:
        rows.append(("Refers to", f"receipt {data.refers_to}"))
    rows += [
        ("Booking reference", data.booking_reference),
        ("Date issued", format_date(data.issued_at, data.session_time_zone, data.locale)),
        (_date_label(data), _moment(data, data.paid_at)),
        ("Customer", f"{data.customer_name} <{data.customer_email}>"),
    ]
    return [Spacer(1, 3 * mm), _key_values(rows)]


def _session(data: ReceiptData) -> list[Flowable]:
    rows = [
        ("Title", data.session_title),
        ("Location", data.session_location),
        ("Starts", _moment(data, data.session_starts_at)),
        ("Ends", _moment(data, data.session_ends_at)),
    ]
    # A full session's names in small type keep the receipt on one page as long as they can.
    style = _BODY if len(", ".join(data.attendees)) < _LONG_ATTENDEES else _SMALL_BLACK
    attendees = [(f"Attendees ({len(data.attendees)})", _joined(data.attendees) or ["-"])]
    return [
        paragraph("Session", _HEADING),
        _key_values(rows),
        _key_values(attendees, style),
    ]


def _joined(names: list[str]) -> list[str]:
    """The names joined by commas, in pieces of at most _ROW_CHARS (a longer name alone)."""
    pieces: list[str] = []
    for name in names:
        if pieces and len(pieces[-1]) + 2 + len(name) <= _ROW_CHARS:
            pieces[-1] += ", " + name
        else:
            pieces.append(name)
    return pieces


def _pieces(text: str) -> list[str]:
    """`text` cut into pieces of at most _ROW_CHARS, at a space when there is one."""
    pieces = []
    while len(text) > _ROW_CHARS:
        cut = text.rfind(" ", _ROW_CHARS // 2, _ROW_CHARS) + 1 or _ROW_CHARS
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def _moment(data: ReceiptData, moment: datetime) -> str:
    """Every time on the document as the clocks read where the session happens."""
    return format_moment(moment, data.session_time_zone, data.locale)


def _key_values(
    rows: Sequence[tuple[str, str | list[str]]],
    style: ParagraphStyle = _BODY,
) -> Table:
    """Label and value side by side; a long value runs on in the rows below its label."""
    cells = [
        [paragraph("" if n else key, _SMALL), paragraph(piece, style)]
        for key, value in rows
        for n, piece in enumerate(
            _pieces(value) if isinstance(value, str) else [p for v in value for p in _pieces(v)]
        )
    ]
    table = Table(cells, colWidths=[40 * mm, _WIDTH - 40 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def _amounts(data: ReceiptData) -> Table:
    code, locale = data.currency, data.locale
    rows = [["Description", "Places", "Unit price", "Amount"]]
    for line in data.lines:
        unit, amount = (
            format_money(line.unit_amount, code, locale),
            format_money(line.amount, code, locale),
        )
        rows.append([line.description, str(line.quantity), unit, amount])
    if data.discount_amount:
        # The discount is subtracted, so it prints with the opposite sign of the lines.
        description = data.discount_description or "Discount"
        rows.append([description, "", "", format_money(-data.discount_amount, code, locale)])
    total_label = "Total refunded" if data.kind == DocumentKind.CREDIT_NOTE else "Total paid"
    if data.total == 0:
        total_label = "Total"
    summary_at = len(rows)
    if data.vat_rate_basis_points is not None:
        net, vat = data.net_and_vat
        basis = "incl." if data.prices_include_vat else "excl."
        rows += [
            [f"Net amount (prices {basis} VAT)", "", "", format_money(net, code, locale)],
            [
                f"VAT at {format_rate(data.vat_rate_basis_points)}",
                "",
                "",
                format_money(vat, code, locale),
            ],
        ]
    rows.append([total_label, "", "", format_money(data.total, code, locale)])
    cells = [_amount_cells(row, bold=index in (0, len(rows) - 1)) for index, row in enumerate(rows)]
    widths = [_WIDTH - 80 * mm, 18 * mm, 30 * mm, 32 * mm]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, summary_at), (-1, summary_at), 0.5, _RULE),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _amount_cells(row: list[str], bold: bool) -> list[Flowable]:
    styles = (_BOLD, _BOLD_RIGHT) if bold else (_BODY, _RIGHT)
    return [paragraph(text, styles[1] if i else styles[0]) for i, text in enumerate(row)]


def _date_label(data: ReceiptData) -> str:
    if data.kind == DocumentKind.CREDIT_NOTE:
        return "Date refunded"
    return "Date confirmed" if data.total == 0 else "Date paid"


def _payment_method(data: ReceiptData) -> str:
    if data.total == 0:
        return "Free: no payment was due"
    verb = "Refunded to" if data.kind == DocumentKind.CREDIT_NOTE else "Paid by"
    brand = ""
    if data.card_brand:
        brand = _CARD_BRANDS.get(data.card_brand.lower(), data.card_brand.title()) + " "
    ending = f" ending in {data.card_last4}" if data.card_last4 else ""
    return f"{verb} {brand}card{ending}"


def _footer(data: ReceiptData) -> str:
    parts = [data.seller.name]
    if data.seller.vat_number:
        parts.append(f"VAT number {data.seller.vat_number}")
    parts.append(f"Booking {data.booking_reference}")
    return " · ".join(parts)
