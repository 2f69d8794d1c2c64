"""The receipt PDF: every field a business must show, readable by machines and people."""

import io
import re
import subprocess
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pypdf
import pytest

from documents.receipt_data import ReceiptData, ReceiptLine
from documents.receipt_pdf import render_receipt_pdf
from documents.samples import ATTENDEES, group_receipt
from tests.helpers.receipts import credit_note


def single_receipt() -> ReceiptData:
    return replace(
        group_receipt(),
        attendees=["Ada Lovelace"],
        lines=[ReceiptLine("Place: Sourdough for beginners", 1, 7_500, 7_500)],
        discount_description=None,
        discount_amount=0,
        total=7_500,
    )


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def test_group_receipt_shows_every_field() -> None:
    text = pdf_text(render_receipt_pdf(group_receipt()))
    expected = [
        "Riverside Fermentation Taproom Ltd",
        "12 Quay Street",
        "Bristol BS1 4DJ",
        "United Kingdom",
        "VAT number: GB123456789",
        "Receipt R-2026-0042",
        "Booking reference RFT-2026-0042",
        "Date paid Sun 1 Mar 2026, 09:29 UTC",
        "Date issued 1 Mar 2026",
        "Customer Ada Lovelace <ada@example.com>",
        "Title Sourdough for beginners",
        "Location Kitchen 2, 12 Quay Street, Bristol",
        "Starts Tue 14 Apr 2026, 18:00 UTC",
        "Ends Tue 14 Apr 2026, 21:30 UTC",
        "Attendees (5) " + ", ".join(ATTENDEES),
        "Place: Sourdough for beginners 5 £75.00 £375.00",
        "Group discount: 10% off 5 or more places -£37.50",
        "Net amount (prices incl. VAT) £281.25",
        "VAT at 20% £56.25",
        "Total paid £337.50",
        "Paid by Visa card ending in 4242",
    ]
    for fragment in expected:
        assert fragment in text
    assert "Credit note" not in text


def test_single_place_receipt_has_no_discount_line() -> None:
    text = pdf_text(render_receipt_pdf(single_receipt()))
    for fragment in [
        "Place: Sourdough for beginners 1 £75.00 £75.00",
        "Net amount (prices incl. VAT) £62.50",
        "VAT at 20% £12.50",
        "Total paid £75.00",
        "Attendees (1) Ada Lovelace",
    ]:
        assert fragment in text
    assert "discount" not in text.lower()


def test_credit_note_shows_negative_amounts_and_the_receipt_it_refers_to() -> None:
    text = pdf_text(render_receipt_pdf(credit_note()))
    for fragment in [
        "Credit note CN-2026-0007",
        "Refers to receipt R-2026-0042",
        "Booking reference RFT-2026-0042",
        "Place: Sourdough for beginners 5 -£75.00 -£375.00",
        "Group discount: 10% off 5 or more places £37.50",
        "Net amount (prices incl. VAT) -£281.25",
        "VAT at 20% -£56.25",
        "Total refunded -£337.50",
        "Refunded to Visa card ending in 4242",
    ]:
        assert fragment in text
    assert not re.search(r"\bReceipt R-", text)


def test_prices_excluding_vat_add_vat_on_top() -> None:
    receipt = replace(single_receipt(), prices_include_vat=False, total=9_000)
    text = pdf_text(render_receipt_pdf(receipt))
    assert "Net amount (prices excl. VAT) £75.00" in text
    assert "VAT at 20% £15.00" in text
    assert "Total paid £90.00" in text


def test_without_card_details_the_payment_method_is_still_stated() -> None:
    receipt = replace(single_receipt(), card_brand=None, card_last4=None)
    assert "Paid by card" in pdf_text(render_receipt_pdf(receipt))


def test_a_free_booking_receipt_says_nothing_was_due() -> None:
    receipt = replace(
        single_receipt(),
        lines=[ReceiptLine("Place: Open day", 1, 0, 0)],
        total=0,
        card_brand=None,
        card_last4=None,
    )
    text = pdf_text(render_receipt_pdf(receipt))
    for fragment in [
        "Place: Open day 1 £0.00 £0.00",
        "VAT at 20% £0.00",
        "Total £0.00",
        "Free: no payment was due",
        "Date confirmed",
    ]:
        assert fragment in text
    assert "Paid by" not in text and "Total paid" not in text and "Date paid" not in text


def test_a_full_session_of_attendees_still_fits_one_page() -> None:
    names = [f"Attendee number {i} with a long name" for i in range(50)]
    receipt = replace(
        group_receipt(),
        attendees=names,
        lines=[ReceiptLine("Place", 50, 7_500, 375_000)],
        discount_amount=37_500,
        total=337_500,
    )
    assert names[-1] in pdf_text(render_receipt_pdf(receipt))


def test_same_data_gives_the_same_bytes() -> None:
    first = render_receipt_pdf(group_receipt())
    assert first == render_receipt_pdf(group_receipt())
    assert first != render_receipt_pdf(single_receipt())


def test_metadata_names_the_document() -> None:
    metadata = pypdf.PdfReader(io.BytesIO(render_receipt_pdf(group_receipt()))).metadata
    assert metadata is not None
    assert metadata.title == "Receipt R-2026-0042"
    assert str(metadata["/CreationDate"]).startswith("D:20260301093000")


def test_renders_to_a_png(tmp_path: Path) -> None:
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(render_receipt_pdf(group_receipt()))
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(tmp_path / "page")], check=True)
    (png,) = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 20_000
    # The QR code, read back from the picture by a real decoder (Debian's zbar-tools).
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    )
    assert decoded.stdout.split() == ["RFT-2026-0042"]


@pytest.mark.parametrize(
    "change",
    [
        {"total": 33_751},
        {"kind": "credit_note"},
        {"refers_to": "R-2026-0001"},
        {"lines": [ReceiptLine("Place", 5, 7_500, 37_000)]},
        {"paid_at": datetime(2026, 3, 1, 9, 29)},
        {"currency": "POUND"},
    ],
)
def test_receipts_that_do_not_add_up_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(group_receipt(), **change)  # type: ignore[arg-type]


def test_credit_notes_cannot_carry_positive_amounts() -> None:
    with pytest.raises(ValueError):
        replace(credit_note(), lines=group_receipt().lines, discount_amount=3_750, total=33_750)
