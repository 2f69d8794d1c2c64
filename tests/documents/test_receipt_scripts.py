"""Names in any script print on receipts and credit notes, and come back out of the PDF."""

import io
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pypdf
import pytest

from documents import fonts
from documents.fonts import FALLBACK, REGULAR, FontFile, FontMissing, markup
from documents.receipt_data import ReceiptData
from documents.receipt_pdf import render_receipt_pdf
from documents.samples import group_receipt
from tests.helpers.receipts import credit_note

NAMES = ["Zoë Ærøskøbing", "李小龙", "Ольга", "محمد"]
# محمد as HarfBuzz shapes it: initial meem, medial hah, medial meem, final dal, the letters
# joined. pdftotext gives these presentation forms back in reading (logical) order; unshaped,
# it would give the four isolated letters U+0645 U+062D U+0645 U+062F.
SHAPED_MUHAMMAD = "\ufee3\ufea4\ufee4\ufeaa"


def _with_names(data: ReceiptData) -> ReceiptData:
    return replace(data, customer_name=NAMES[0], attendees=NAMES)


def _pdftotext(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


@pytest.mark.parametrize("document", [group_receipt, credit_note])
def test_names_in_every_script_are_extracted_back(document: object) -> None:
    data = _with_names(document())  # type: ignore[operator]
    text = _pdftotext(render_receipt_pdf(data))
    for name in NAMES[:3]:
        assert name in text, name
    assert SHAPED_MUHAMMAD in text
    assert "محمد" in unicodedata.normalize("NFKC", text)
    assert "\ufffd" not in text  # nothing that no font could show


def test_an_arabic_customer_name_is_shaped_on_its_own_line() -> None:
    data = replace(group_receipt(), customer_name="محمد علي", attendees=["محمد علي"])
    text = _pdftotext(render_receipt_pdf(data))
    assert SHAPED_MUHAMMAD in text
    assert "علي" in unicodedata.normalize("NFKC", text)
    # Latin text beside it keeps its letters: no "fi" or "st" ligature glyphs.
    assert "ada@example.com" in text and "\ufb06" not in text


def test_unicode_fonts_are_embedded_the_fallback_only_when_needed() -> None:
    def embedded(data: ReceiptData) -> set[str]:
        reader = pypdf.PdfReader(io.BytesIO(render_receipt_pdf(data)))
        resources = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]
        return {str(font.get_object()["/BaseFont"]).split("+")[-1] for font in resources.values()}

    plain = embedded(group_receipt())
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= plain
    assert "DroidSansFallback" not in plain
    assert "DroidSansFallback" in embedded(_with_names(group_receipt()))


def test_markup_sets_what_the_font_lacks_in_the_fallback() -> None:
    fonts.register_fonts()
    assert markup("Ольга <&>", REGULAR) == "Ольга &lt;&amp;&gt;"
    assert markup("Li 李小龙, Ada", REGULAR) == f'Li <font name="{FALLBACK}">李小龙</font>, Ada'
    # In a shaped paragraph, reportlab shapes a word in one font: the run stands apart.
    shaped = markup("李小龙, محمد", REGULAR, shaped=True)
    assert shaped == f' <font name="{FALLBACK}">李小龙</font> , محمد'


@pytest.fixture
def forget_fonts() -> Iterator[None]:
    fonts.register_fonts.cache_clear()
    yield
    fonts.register_fonts.cache_clear()
    fonts.register_fonts()


@pytest.mark.usefixtures("forget_fonts")
def test_a_missing_font_file_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = FontFile(Path("/nonexistent/DroidSansFallbackFull.ttf"), "fonts-droid-fallback")
    monkeypatch.setitem(fonts.FONT_FILES, FALLBACK, gone)
    with pytest.raises(FontMissing, match="install the Debian package fonts-droid-fallback"):
        render_receipt_pdf(group_receipt())
