"""A certificate of attendance prints the attendee's name in its own script, the course, the
day, the hours, its number and its verification code, whose QR code reads back."""

import subprocess
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.certificates import certificate_code
from documents.certificate_pdf import CertificateData, hours, render_certificate_pdf
from tests.helpers.qr import qr_codes_of_pdf

KEYS = ["test certificate key"]
STARTS = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
# محمد as HarfBuzz shapes it (tests/documents/test_receipt_scripts.py).
SHAPED_MUHAMMAD = "\ufee3\ufea4\ufee4\ufeaa"


def _data(name: str) -> CertificateData:
    return CertificateData(
        number="RFT-C-2026-000007",
        seller_name="Rescue First Training Ltd",
        attendee_name=name,
        course_title="Emergency First Aid at Work",
        session_location="Cork",
        session_starts_at=STARTS,
        session_ends_at=STARTS + timedelta(hours=7, minutes=30),
        session_time_zone="Europe/Dublin",
        verification_code=certificate_code(uuid.UUID(int=7), KEYS),
    )


def _text(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


@pytest.mark.parametrize(
    "name", ["Ελένη Παπαδοπούλου", "Ольга Иванова", "李小龙", "Zoë Ærøskøbing"]
)
def test_the_name_prints_in_its_own_script_with_course_day_hours_and_number(name: str) -> None:
    data = _data(name)
    text = _text(render_certificate_pdf(data))
    for expected in (name, data.course_title, "3 Dec 2026", "7.5 hours", data.number):
        assert expected in text, expected
    assert data.verification_code in text.replace("\n", "")
    assert "\ufffd" not in text


def test_an_arabic_name_is_shaped() -> None:
    text = _text(render_certificate_pdf(_data("محمد")))
    assert SHAPED_MUHAMMAD in text and "محمد" in unicodedata.normalize("NFKC", text)


def test_the_qr_code_holds_the_verification_code(tmp_path: Path) -> None:
    data = _data("Ada Lovelace")
    assert qr_codes_of_pdf(render_certificate_pdf(data), tmp_path) == [data.verification_code]


def test_the_same_certificate_renders_the_same_bytes() -> None:
    assert render_certificate_pdf(_data("Ada")) == render_certificate_pdf(_data("Ada"))


def test_hours_read_as_people_say_them() -> None:
    assert [hours(STARTS, STARTS + timedelta(minutes=m)) for m in (60, 180, 450, 15)] == [
        "1 hour",
        "3 hours",
        "7.5 hours",
        "0.25 hours",
    ]
