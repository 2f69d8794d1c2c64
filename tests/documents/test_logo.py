"""documents.logo.check_logo: a PNG or SVG of bounded size is taken and its type told; anything
else, or an SVG with a DTD or entities, is refused before it is parsed any further."""

import io
import re

import pytest
from PIL import Image

from documents.logo import MAX_LOGO_BYTES, MAX_LOGO_PIXELS, InvalidLogo, LogoType, check_logo

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>'


def png(width: int = 16, height: int = 8) -> bytes:
    image = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 128, 255)).save(image, "PNG")
    return image.getvalue()


def test_a_png_and_an_svg_are_taken_with_their_type() -> None:
    assert check_logo(png()) == LogoType.PNG
    assert check_logo(png(), "image/png") == LogoType.PNG
    assert check_logo(SVG, "image/svg+xml") == LogoType.SVG
    assert check_logo(b'<?xml version="1.0"?>\n<svg width="1" height="1"/>') == LogoType.SVG


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        (b"", None, "empty"),
        (b"GIF89a\x01\x00\x01\x00", None, "neither a PNG nor well-formed SVG"),
        (png(), "image/svg+xml", "not an SVG"),
        (SVG, "image/png", "not a PNG"),
        (SVG, "image/gif", "image/png or image/svg+xml"),
        (png()[:-12], None, "not a readable PNG"),  # its IEND chunk cut off
        (png(MAX_LOGO_PIXELS + 1, 1), None, "pixels"),
        (b"\x89PNG\r\n\x1a\n" + bytes(MAX_LOGO_BYTES), None, "more than"),
        (b"<html><body/></html>", None, "root element is not <svg>"),
        (b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd"><svg/>', None, "DTD"),
        (b'<!DOCTYPE svg [<!ENTITY e "x">]><svg>&e;</svg>', None, "DTD"),
        (b'<!DOCTYPE svg [<!ENTITY e SYSTEM "file:///etc/passwd">]><svg>&e;</svg>', None, "DTD"),
    ],
)
def test_anything_else_is_refused_saying_why(
    data: bytes, content_type: str | None, says: str
) -> None:
    with pytest.raises(InvalidLogo, match=re.escape(says)):
        check_logo(data, content_type)
