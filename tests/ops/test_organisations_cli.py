"""`booking-ops organisations show|update` (issue 19): the seller profile read and changed with
the API's checks; each refusal one line on stderr, exit code 2, nothing changed."""

import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from core.settings import Settings
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error


async def new_organisation(settings: Settings) -> dict[str, Any]:
    name = f"Cli {uuid.uuid4().hex[:10]}"
    made: dict[str, Any] = ok_json(
        await booking_ops(settings, "organisations", "create", name, "--json")
    )
    return made


async def test_a_profile_is_shown_and_updated(settings: Settings, tmp_path: Path) -> None:
    made = await new_organisation(settings)
    logo = tmp_path / "logo.png"
    Image.new("RGB", (12, 6), "teal").save(logo, "PNG")
    prefix = f"C{uuid.uuid4().hex[:5].upper()}"
    options = [
        *("--legal-name", "Harbour Events Ltd"),
        *("--address-line", "3 Quay Road", "--address-line", "Plymouth PL1 2AB"),
        *("--country", "GB", "--tax-id", "GB980780684", "--vat-rate-basis-points", "2000"),
        *("--currency", "GBP", "--locale", "en_GB", "--time-zone", "Europe/London"),
        *("--sender-name", "Harbour Events", "--reply-to", "hello@harbour.example"),
        *("--footer", "Registered in England", "--reference-prefix", prefix),
        *("--receipt-prefix", f"{prefix}-R", "--credit-note-prefix", f"{prefix}-CN"),
        *("--logo", str(logo)),
    ]
    updated = ok_json(
        await booking_ops(settings, "organisations", "update", made["name"], *options, "--json")
    )
    assert updated["legal_name"] == "Harbour Events Ltd"
    assert updated["address_lines"] == ["3 Quay Road", "Plymouth PL1 2AB"]
    assert (updated["tax_id"], updated["vat_rate_basis_points"]) == ("GB980780684", 2000)
    assert updated["reference_prefix"] == prefix and updated["credit_note_prefix"] == f"{prefix}-CN"
    assert updated["logo"]["content_type"] == "image/png"
    assert updated["logo"]["bytes"] == logo.stat().st_size

    shown = ok_json(await booking_ops(settings, "organisations", "show", made["id"], "--json"))
    assert shown == updated
    table = ok(await booking_ops(settings, "organisations", "show", made["name"]))
    assert "Harbour Events Ltd" in table and "20 %" in table and "GB980780684" in table

    cleared = ok_json(
        await booking_ops(
            settings,
            "organisations",
            "update",
            made["id"],
            "--not-vat-registered",
            "--no-logo",
            "--json",
        )
    )
    assert cleared["vat_rate_basis_points"] is None and cleared["logo"] is None
    assert cleared["tax_id"] == "GB980780684"  # only what was named changed


async def test_refusals_are_one_line_and_change_nothing(settings: Settings, tmp_path: Path) -> None:
    made = await new_organisation(settings)
    before = ok_json(await booking_ops(settings, "organisations", "show", made["id"], "--json"))
    text_file = tmp_path / "logo.png"
    text_file.write_text("not an image")
    update = ["organisations", "update", made["id"]]
    for options, complaint in [
        (["--country", "XY"], "unknown country 'XY'"),
        (["--country", "GB", "--tax-id", "GB 123 4567 80"], "not a valid VAT number for GB"),
        (["--vat-rate-basis-points", "2000"], "needs a tax_id"),
        (["--vat-rate-basis-points", "5", "--not-vat-registered"], "not both"),
        (["--reference-prefix", "OO-CN", "--footer", "x"], "used by another organisation"),
        (["--currency", "XYZ"], "unknown currency"),
        (["--logo", str(text_file)], "neither a PNG nor well-formed SVG"),
        (["--logo", str(tmp_path / "missing.svg")], "missing.svg"),
        ([], "nothing to change"),
    ]:
        one_line_error(await booking_ops(settings, *update, *options), 2, complaint)
    unknown = ["organisations", "show", f"Nobody {uuid.uuid4().hex[:6]}"]
    one_line_error(await booking_ops(settings, *unknown), 2, "no organisation")
    after = ok_json(await booking_ops(settings, "organisations", "show", made["id"], "--json"))
    assert after == before
