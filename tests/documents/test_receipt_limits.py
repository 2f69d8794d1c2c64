"""Any input the API accepts lays out: a receipt or credit note with every text at its maximum
runs on across pages instead of failing (issue 17, case 5), and its text comes back out."""

import io
import subprocess
import time
import unicodedata
from dataclasses import replace

import pypdf
import pytest

from documents.receipt_data import ReceiptData, ReceiptLine
from documents.receipt_pdf import render_receipt_pdf
from documents.samples import group_receipt
from tests.documents.maximal import ATTENDEES, LONGEST_EMAIL, attendee_names, marker, text
from tests.helpers.receipts import credit_note

# محمد as HarfBuzz shapes it (see test_receipt_scripts).
SHAPED_MUHAMMAD = "\ufee3\ufea4\ufee4\ufeaa"


def maximal(data: ReceiptData) -> ReceiptData:
    sign = -1 if data.refers_to else 1
    return replace(
        data,
        customer_name=text("Customer"),
        customer_email=LONGEST_EMAIL,
        session_title=text("Title"),
        session_location=text("Location"),
        attendees=attendee_names(),
        lines=[ReceiptLine(f"Place: {text('Title')}", ATTENDEES, sign * 100, sign * 5_000)],
        discount_description=None,
        discount_amount=0,
        total=sign * 5_000,
    )


def flat(value: str) -> str:
    """Text compared without the line breaks and spaces layout adds, in one Unicode form."""
    return "".join(unicodedata.normalize("NFKC", value).split())


@pytest.mark.parametrize("document", [group_receipt, credit_note])
def test_every_field_at_its_maximum_runs_on_across_pages(document: object) -> None:
    data = maximal(document())  # type: ignore[operator]
    started = time.perf_counter()
    pdf = render_receipt_pdf(data)
    took = time.perf_counter() - started
    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert pages > 1
    text_out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    found = flat(text_out)
    for label in ("Customer", "Title", "Location"):
        assert marker(label) in found, label
    assert all(marker("Attendee", n) in found for n in range(ATTENDEES))
    assert flat(LONGEST_EMAIL) in found
    assert "李小龙" in found and "Ольга" in found and SHAPED_MUHAMMAD in text_out
    assert flat("Zoe\u0308") in found  # the combining diaeresis, composed or not
    print(f"{data.kind}: {pages} pages, {len(pdf)} bytes, rendered in {took:.2f} s")


def test_one_name_longer_than_a_page_can_hold_still_lays_out() -> None:
    """Stored before the API's limits (or by an operator): a row never exceeds a page."""
    data = replace(group_receipt(), customer_name=text("Huge", length=20_000))
    pdf = render_receipt_pdf(data)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) > 1
