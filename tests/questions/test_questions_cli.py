"""`booking-ops sessions questions`: replace a session's set from a JSON file, as the API's PUT
takes it, and show it; a bad file exits 2, an unknown session 1."""

import json
import uuid
from pathlib import Path
from typing import Any

from core.settings import Settings
from tests.conftest import SessionFactory
from tests.ops.cli_helpers import booking_ops, ok, ok_json, one_line_error

SET: dict[str, Any] = {
    "questions": [
        {"key": "dob", "label": "Date of birth", "type": "date", "scope": "attendee", "min_age": 16}
    ],
    "consents": [{"key": "photos", "title": "Photographs", "text": "We may take photographs."}],
}


async def test_set_then_show_and_a_changed_text_is_the_next_version(
    settings: Settings, new_session: SessionFactory, tmp_path: Path
) -> None:
    session_id = await new_session()
    file = tmp_path / "questions.json"
    file.write_text(json.dumps(SET))
    stored = ok_json(
        await booking_ops(settings, "sessions", "questions", "set", session_id, str(file), "--json")
    )
    assert stored["questions"][0]["min_age"] == 16
    assert stored["consents"][0]["version"] == 1

    changed = [{**SET["consents"][0], "text": "We may take photographs and film."}]
    file.write_text(json.dumps({**SET, "consents": changed}))
    await booking_ops(settings, "sessions", "questions", "set", session_id, str(file))
    shown = ok(await booking_ops(settings, "sessions", "questions", "show", session_id))
    assert "Date of birth" in shown and "Photographs" in shown
    read = ok_json(
        await booking_ops(settings, "sessions", "questions", "show", session_id, "--json")
    )
    assert read["consents"][0]["version"] == 2


async def test_a_bad_file_exits_2_and_an_unknown_session_1(
    settings: Settings, new_session: SessionFactory, tmp_path: Path
) -> None:
    file = tmp_path / "questions.json"
    file.write_text(
        json.dumps({"questions": [{"key": "diet", "label": "Lunch", "type": "single_choice"}]})
    )
    bad = await booking_ops(
        settings, "sessions", "questions", "set", await new_session(), str(file)
    )
    one_line_error(bad, 2, "bad question set")
    unknown = await booking_ops(settings, "sessions", "questions", "show", str(uuid.uuid4()))
    one_line_error(unknown, 1, "does not exist")
