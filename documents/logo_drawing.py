"""An organisation's logo drawn at the top of its documents: PNG (reportlab's ImageReader) or
SVG (svglib), scaled into a fixed box with its proportions kept.

The bytes were checked when uploaded (documents/logo.py); what cannot be drawn here anyway
raises UnreadableLogo, and the document is issued without it (activities/receipts.py).
"""

from io import BytesIO

from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable
from svglib.svglib import svg2rlg

from documents.logo import MAX_LOGO_PIXELS, LogoType
from documents.receipt_data import Logo

# The box every logo is scaled into, so a wide one and a square one take the same room.
BOX_WIDTH = 60 * mm
BOX_HEIGHT = 18 * mm
# A small PNG file can claim an enormous canvas; decoding it would take that much memory.
_MAX_PIXELS = MAX_LOGO_PIXELS * MAX_LOGO_PIXELS


class UnreadableLogo(ValueError):
    """The logo's bytes do not decode as the image its content type names."""


def logo_flowable(logo: Logo) -> Flowable:
    """The logo, fitted into BOX_WIDTH x BOX_HEIGHT, for a platypus story."""
    try:
        if logo.content_type == LogoType.PNG:
            return _png(logo.data)
        if logo.content_type == LogoType.SVG:
            return _svg(logo.data)
    except UnreadableLogo:
        raise
    except Exception as err:  # PIL, lxml and svglib each raise their own errors on bad data
        raise UnreadableLogo(f"the {logo.content_type} logo cannot be read: {err}") from err
    raise UnreadableLogo(f"no logo is drawn from {logo.content_type!r}")


def _fit(width: float, height: float) -> float:
    """The scale that fits width x height into the box."""
    if width <= 0 or height <= 0:
        raise UnreadableLogo(f"a logo of {width} x {height} has nothing to draw")
    return min(BOX_WIDTH / width, BOX_HEIGHT / height)


class _Bitmap(Flowable):
    """A decoded bitmap drawn at the given size (transparency kept)."""

    def __init__(self, image: ImageReader, width: float, height: float):
        super().__init__()
        self._image, self.width, self.height = image, width, height

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(self._image, 0, 0, self.width, self.height, mask="auto")


def _png(data: bytes) -> Flowable:
    image = ImageReader(BytesIO(data))
    width, height = image.getSize()
    if width * height > _MAX_PIXELS:
        raise UnreadableLogo(f"a {width} x {height} pixel logo is too large to draw")
    image.getRGBData()  # decoded now: a corrupt file fails here, not halfway through a page
    scale = _fit(width, height)
    return _Bitmap(image, width * scale, height * scale)


def _svg(data: bytes) -> Flowable:
    drawing: Drawing | None = svg2rlg(BytesIO(data))
    if drawing is None:
        raise UnreadableLogo("the SVG logo has no drawing")
    scale = _fit(drawing.width, drawing.height)
    drawing.scale(scale, scale)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    return drawing
