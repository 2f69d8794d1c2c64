"""The seller on a receipt: its logo (PNG or SVG) fitted into the box at the top, its footer at
the foot of every page, its VAT line and number only when VAT is charged, and the snapshot
stored with the document."""

import hashlib
from dataclasses import replace

import pytest
from reportlab.lib.units import mm

from documents.logo_drawing import BOX_HEIGHT, BOX_WIDTH, UnreadableLogo, logo_flowable
from documents.receipt_data import Logo, ReceiptData
from documents.receipt_pdf import render_receipt_pdf
from documents.samples import SELLER, group_receipt
from tests.helpers.receipts import credit_note
from tests.helpers.sellers import (
    PNG_RED,
    SVG_BLUE,
    SVG_LOGO,
    box_of,
    first_page,
    pdftotext,
    png_logo,
)

FOOTER = "Registered in England and Wales, company no. 01234567.\nDirectors: A. Lovelace"


def with_seller(data: ReceiptData, **changes: object) -> ReceiptData:
    return replace(data, seller=replace(SELLER, **changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("logo", "colour", "size"),
    [
        # 3:1, wider than the box (60 x 18 mm): as high as the box.
        (Logo(png_logo(300, 100), "image/png"), PNG_RED, (54 * mm, 18 * mm)),
        # 2:1 in SVG: as high as the box.
        (Logo(SVG_LOGO, "image/svg+xml"), SVG_BLUE, (36 * mm, 18 * mm)),
        # 5:1: as wide as the box.
        (Logo(png_logo(500, 100), "image/png"), PNG_RED, (60 * mm, 12 * mm)),
    ],
    ids=["png", "svg", "wide-png"],
)
@pytest.mark.parametrize("document", [group_receipt, credit_note])
def test_the_logo_is_drawn_at_the_top_left_in_its_box(
    logo: Logo, colour: tuple[int, int, int], size: tuple[float, float], document: object
) -> None:
    pdf = render_receipt_pdf(with_seller(document(), logo=logo))  # type: ignore[operator]
    page = first_page(pdf)  # a pixel per point
    box = box_of(page, colour)
    assert box is not None, "the logo is not on the page"
    left, top, right, bottom = box
    # The page's margins, the frame's padding (6 pt) and the header cell's (3 pt above).
    assert abs(left - (20 * mm + 6)) <= 2 and abs(top - (18 * mm + 6 + 3)) <= 2
    assert abs(right - left - size[0]) <= 2 and abs(bottom - top - size[1]) <= 2
    assert box_of(first_page(render_receipt_pdf(document())), colour) is None  # type: ignore[operator]
    # The seller's name still prints below it, and the bytes are as stable as without a logo.
    assert "Riverside Fermentation Taproom Ltd" in pdftotext(pdf)
    assert pdf == render_receipt_pdf(with_seller(document(), logo=logo))  # type: ignore[operator]


@pytest.mark.parametrize(
    "logo",
    [
        Logo(b"\x89PNG\r\n\x1a\n not really", "image/png"),
        Logo(b"<svg", "image/svg+xml"),
        Logo(png_logo(), "image/gif"),
    ],
    ids=["broken-png", "broken-svg", "unknown-type"],
)
def test_a_logo_that_cannot_be_drawn_says_so(logo: Logo) -> None:
    with pytest.raises(UnreadableLogo):
        logo_flowable(logo)


def test_the_box_is_what_a_logo_is_fitted_into() -> None:
    square = logo_flowable(Logo(png_logo(40, 40), "image/png"))
    assert square.wrap(1000, 1000) == (BOX_HEIGHT, BOX_HEIGHT)  # small ones are scaled up
    assert BOX_WIDTH > BOX_HEIGHT


def test_the_footer_prints_at_the_foot_of_every_page() -> None:
    data = with_seller(group_receipt(), footer=FOOTER)
    text = pdftotext(render_receipt_pdf(data))
    assert "Registered in England and Wales, company no. 01234567. Directors: A. Lovelace" in text
    # Below the page's content: after the payment line, before the closing line.
    assert text.index("Paid by Visa card") < text.index("Registered in England")
    assert text.index("Registered in England") < text.index("Booking RFT-2026-0042", -60)
    many = replace(data, attendees=[f"Attendee number {n:04d}" for n in range(1, 600)])
    pages = pdftotext(render_receipt_pdf(many)).count("Directors: A. Lovelace")
    assert pages > 1 and pages == pdftotext(render_receipt_pdf(many)).count("· Booking RFT")


@pytest.mark.parametrize("document", [group_receipt, credit_note])
def test_without_vat_there_is_no_vat_line_and_no_vat_number(document: object) -> None:
    data = with_seller(document(), vat_number=None)  # type: ignore[operator]
    text = pdftotext(render_receipt_pdf(replace(data, vat_rate_basis_points=None)))
    assert "VAT" not in text and "Net amount" not in text
    assert "£337.50" in text  # the total, all of it


def test_a_document_without_vat_makes_no_vat_number_claim() -> None:
    with pytest.raises(ValueError, match="VAT number"):
        replace(group_receipt(), vat_rate_basis_points=None)


def test_a_rate_of_its_own_prints_that_rate() -> None:
    text = pdftotext(render_receipt_pdf(replace(group_receipt(), vat_rate_basis_points=550)))
    assert "VAT at 5.5% £17.59" in text and "VAT number: GB123456789" in text


def test_the_snapshot_is_the_seller_as_printed_with_its_rate() -> None:
    png = png_logo()
    data = with_seller(group_receipt(), logo=Logo(png, "image/png"), footer=FOOTER, country="GB")
    assert data.seller_snapshot() == {
        "name": "Riverside Fermentation Taproom Ltd",
        "address_lines": ["12 Quay Street", "Bristol BS1 4DJ", "United Kingdom"],
        "country": "GB",
        "vat_number": "GB123456789",
        "logo": {"sha256": hashlib.sha256(png).hexdigest(), "content_type": "image/png"},
        "footer": FOOTER,
        "vat_rate_basis_points": 2000,
    }
    assert group_receipt().seller_snapshot()["logo"] is None
