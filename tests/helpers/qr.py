"""Read the QR codes of a PDF back, as a door scanner would: render each page with poppler's
pdftoppm and decode with zbar (Debian's zbar-tools)."""

import subprocess
from pathlib import Path


def qr_codes_of_pdf(pdf: bytes, workdir: Path, dpi: int = 150) -> list[str]:
    """The values of every QR code on every page, in page order."""
    source = workdir / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), str(source), str(workdir / "page")], check=True
    )
    values = []
    for png in sorted(workdir.glob("page*.png")):
        decoded = subprocess.run(
            ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
        )
        values += decoded.stdout.split()
        png.unlink()
    return values
