"""The fonts receipts print in, so a name in any script prints as itself, never as boxes.

DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic) sets the text; the characters it lacks
(Chinese, Japanese, Korean) are set in Droid Sans Fallback, run by run. Both are embedded as
subsets. Right-to-left text is shaped by HarfBuzz (reportlab's optional `uharfbuzz` support):
Arabic letters join and read from the right.
"""

import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.platypus import Paragraph

REGULAR, BOLD, FALLBACK = "BookingSans", "BookingSans-Bold", "BookingSansFallback"


@dataclass(frozen=True)
class FontFile:
    path: Path
    debian_package: str


# Where Debian puts them; scripts/bootstrap.sh installs the packages.
FONT_FILES = {
    REGULAR: FontFile(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), "fonts-dejavu-core"),
    BOLD: FontFile(
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"), "fonts-dejavu-core"
    ),
    FALLBACK: FontFile(
        Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), "fonts-droid-fallback"
    ),
}
# Bidi classes of right-to-left letters (Hebrew "R", Arabic "AL"): their paragraphs are shaped.
_RIGHT_TO_LEFT = frozenset({"R", "AL"})


class FontMissing(RuntimeError):
    """A font file is not where Debian installs it."""


@cache
def register_fonts() -> None:
    """Load the text fonts once per process (the fallback when first needed: it costs about
    20 MB of memory); FontMissing names the package to install."""
    for name, font in FONT_FILES.items():
        if not font.path.is_file():
            raise FontMissing(
                f"font file {font.path} is missing: install the Debian package "
                f"{font.debian_package} (scripts/bootstrap.sh does)"
            )
        if name != FALLBACK:
            _register(name)
    if ttfonts.uharfbuzz is None:
        raise FontMissing("uharfbuzz is not installed: right-to-left text cannot be shaped")
    # reportlab shapes with Latin ligatures on, which print "fi" and "st" as one glyph ("ﬁ",
    # "ﬆ") that text extraction returns as such; Arabic's required ligatures stay on.
    features = ttfonts.shapeFragWord.__defaults__[0]  # type: ignore[attr-defined]
    features.update(liga=False, dlig=False)


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """`text` (plain, not markup) as a Paragraph in `style`, whatever its script."""
    shaped = not text.isascii() and any(
        unicodedata.bidirectional(char) in _RIGHT_TO_LEFT for char in text
    )
    return Paragraph(markup(text, style.fontName, shaped), _shaped(style) if shaped else style)


def markup(text: str, font_name: str, shaped: bool = False) -> str:
    """`text` escaped for a Paragraph, each run of characters `font_name` lacks set in the
    fallback font.

    reportlab shapes a word with the font of its first character, so in a shaped paragraph a
    fallback run is kept out of the words around it (a space: "李小龙 ,").
    """
    covered = _covered(font_name)
    parts = []
    for lacking, run in groupby(text, key=lambda c: ord(c) not in covered and not c.isspace()):
        chunk = escape("".join(run))
        if lacking:
            _register(FALLBACK)
            chunk = f'<font name="{FALLBACK}">{chunk}</font>'
            chunk = f" {chunk} " if shaped else chunk
        parts.append(chunk)
    return "".join(parts)


@cache
def _register(name: str) -> None:
    pdfmetrics.registerFont(ttfonts.TTFont(name, str(FONT_FILES[name].path)))


@cache
def _covered(font_name: str) -> frozenset[int]:
    font = pdfmetrics.getFont(font_name)
    return frozenset(font.face.charToGlyph)  # type: ignore[attr-defined]


@cache
def _shaped(style: ParagraphStyle) -> ParagraphStyle:
    return ParagraphStyle(f"{style.name}-shaped", parent=style, shaping=1)
