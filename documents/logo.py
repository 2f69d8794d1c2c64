"""An organisation's logo, checked before it is stored: a PNG or an SVG, small, and safe to open.

A logo is printed on every receipt and credit note, so a file that is not an image, a huge one,
or an SVG that would make the parser fetch or expand entities is refused when it is uploaded,
not when a document is drawn.
"""

import io
import xml.parsers.expat
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

MAX_LOGO_BYTES = 256 * 1024
# Wider or taller than this is no logo but a poster (and costly to scale on every document).
MAX_LOGO_PIXELS = 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class LogoType(StrEnum):
    """The logo's media type, as stored in organisations.logo_content_type."""

    PNG = "image/png"
    SVG = "image/svg+xml"


class InvalidLogo(ValueError):
    """The file is not a logo we take; the message says why."""


def check_logo(data: bytes, content_type: str | None = None) -> LogoType:
    """What `data` is (PNG or SVG), or InvalidLogo: too large, not an image, not the type
    `content_type` names, a PNG that does not open or is too large in pixels, an SVG with a
    DTD or entities or whose root is not <svg> (in SVG's namespace or none)."""
    if not data:
        raise InvalidLogo("the logo is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidLogo(f"the logo is {len(data)} bytes, more than {MAX_LOGO_BYTES}")
    found = LogoType.PNG if data.startswith(PNG_SIGNATURE) else LogoType.SVG
    if content_type is not None and content_type != found:
        expected = _known_type(content_type)
        raise InvalidLogo(f"the logo is not {'an SVG' if expected == LogoType.SVG else 'a PNG'}")
    if found == LogoType.PNG:
        _check_png(data)
    else:
        _check_svg(data)
    return found


def _known_type(content_type: str) -> LogoType:
    try:
        return LogoType(content_type)
    except ValueError:
        raise InvalidLogo(f"a logo is image/png or image/svg+xml, not {content_type!r}") from None


def _check_png(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            image.verify()  # reads every chunk and checks their CRCs, without decoding
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidLogo("the logo is not a readable PNG") from None
    except Image.DecompressionBombError:
        raise InvalidLogo("the logo's PNG is too large in pixels") from None
    if not (0 < width <= MAX_LOGO_PIXELS and 0 < height <= MAX_LOGO_PIXELS):
        raise InvalidLogo(
            f"the logo is {width}x{height} pixels; at most {MAX_LOGO_PIXELS} on each side"
        )


class _Refused(Exception):
    pass


def _check_svg(data: bytes) -> None:
    """Parsed with expat, which is refused any DOCTYPE, entity declaration or external entity:
    no billion laughs, no file or network read. The root element must be SVG's <svg>."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    roots: list[str] = []

    def refuse(*_: object) -> int:
        raise _Refused

    def element(name: str, _attributes: object) -> None:
        if not roots:
            roots.append(name)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = element
    try:
        parser.Parse(data, True)
    except _Refused:
        raise InvalidLogo("the logo's SVG has a DTD or entities, which are refused") from None
    except xml.parsers.expat.ExpatError:
        raise InvalidLogo("the logo is neither a PNG nor well-formed SVG") from None
    if roots not in ([f"{SVG_NAMESPACE} svg"], ["svg"]):
        raise InvalidLogo("the logo's root element is not <svg>")
