"""Sellers for the document tests: real logo images, a page read back as pixels and as text,
and organisations' profiles set for a test and put back after it."""

import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.enums import SessionKind, VatTreatment
from models.tables import Organisation
from store.catalog import SessionSpec, create_session

# A blue rectangle, twice as wide as it is high.
SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">'
    b'<rect x="0" y="0" width="200" height="100" fill="#1E64C8"/></svg>'
)
SVG_BLUE = (0x1E, 0x64, 0xC8)
PNG_RED = (200, 30, 30)


def png_logo(width: int = 300, height: int = 100, colour: tuple[int, int, int] = PNG_RED) -> bytes:
    """A real PNG of one colour, made by Pillow."""
    buffer = BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def pdftotext(pdf: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it, white space folded."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(done.stdout.decode().split())


def first_page(pdf: bytes, dpi: int = 72) -> Image.Image:
    """The PDF's first page as pixels (poppler's pdftoppm): at 72 dpi, a pixel per point."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        root = Path(folder) / "page"
        command = ["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile"]
        subprocess.run([*command, str(source), str(root)], check=True)
        with Image.open(root.with_suffix(".png")) as page:
            return page.convert("RGB")


def box_of(page: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """The bounding box (left, top, right, bottom) of the pixels of `colour` (give or take
    anti-aliasing), None when there is none."""
    distance = ImageChops.difference(page, Image.new("RGB", page.size, colour)).convert("L")
    return distance.point(lambda d: 255 if d <= 8 else 0).getbbox()


# A complete seller profile, as an organiser fills it in.
OTHER_PROFILE: dict[str, Any] = {
    "legal_name": "Other Organiser Events Limited",
    "address_lines": ["7 Quay Lane", "Cork T12 XY34", "Ireland"],
    "country": "IE",
    "tax_id": "IE 1234567 T",
    "vat_rate_basis_points": 2300,
    "locale": "en_IE",
    "email_sender_name": "Other Organiser Bookings",
    "reply_to": "hello@other-organiser.example",
    "footer": "Registered in Ireland, company no. 654321.\nDirectors: A. Byrne, C. Walsh",
}


@asynccontextmanager
async def seller_profile(
    db: async_sessionmaker[AsyncSession], organisation_id: uuid.UUID, **values: Any
) -> AsyncIterator[None]:
    """The organisation's profile with `values` for the test, as it was after it: the test
    database is shared by the whole session."""
    columns = [getattr(Organisation, name) for name in values]
    async with db() as s:
        row = (await s.execute(select(*columns).where(Organisation.id == organisation_id))).one()
    before = dict(zip(values, row, strict=True))
    await set_profile(db, organisation_id, **values)
    try:
        yield
    finally:
        await set_profile(db, organisation_id, **before)


async def set_profile(
    db: async_sessionmaker[AsyncSession], organisation_id: uuid.UUID, **values: Any
) -> None:
    async with db.begin() as s:
        await s.execute(
            update(Organisation).where(Organisation.id == organisation_id).values(values)
        )


async def session_of(
    db: async_sessionmaker[AsyncSession],
    organisation_id: uuid.UUID,
    currency: str = "GBP",
    vat: tuple[VatTreatment, int | None] = (VatTreatment.ORGANISATION, None),
    **spec: Any,
) -> str:
    """A bookable course sold by the organisation a month ahead, at 75.00 a place for 40, with
    its VAT treatment; `spec` changes any other field of its SessionSpec (`hold_seconds=1`)."""
    starts = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    treatment, rate = vat
    fields: dict[str, Any] = {
        "kind": SessionKind.COURSE,
        "title": "Emergency First Aid at Work",
        "location": "Cork",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=8),
        "price_amount": 7500,
        "currency": currency,
        "capacity": 40,
        "organisation_id": organisation_id,
        "vat_treatment": treatment,
        "vat_rate_basis_points": rate,
    }
    async with db.begin() as s:
        return str((await create_session(s, SessionSpec(**(fields | spec)))).id)
