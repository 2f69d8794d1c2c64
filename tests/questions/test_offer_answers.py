"""Accepting a waiting-list offer of a session that asks questions and consents: the accept takes
`answers` and `consents`, checked as `POST /v1/bookings` checks them (422 naming the attendee
and the question, the offer still open), and the booking stores them."""

from datetime import datetime
from typing import Any

from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import start_booking
from tests.helpers.stack import Stack
from tests.waiting_list import helpers as wl

FORM: dict[str, Any] = {
    "questions": [
        {"key": "company", "label": "Company", "type": "text", "required": True},
        {
            "key": "dob",
            "label": "Date of birth",
            "type": "date",
            "scope": "attendee",
            "required": True,
            "min_age": 18,
        },
    ],
    "consents": [{"key": "waiver", "title": "Medical waiver", "text": "I am fit to train."}],
}


async def test_an_offer_is_accepted_only_with_valid_answers_and_consents(stack: Stack) -> None:
    session_id = await stack.new_session(capacity=2)
    booking = await start_booking(stack.api, session_id, 2)  # booked before the form existed
    put = await stack.api.put(f"/v1/sessions/{session_id}/questions", json=FORM, headers=ADMIN)
    assert put.status_code == 200, put.text
    ada = await wl.join(stack.api, session_id, 2, "ada")
    await wl.cancel(stack.api, booking)
    token = (await wl.in_state(stack.api, ada, "offered"))["offer"]["token"]
    path = f"/v1/waiting-list/{ada}/accept"

    refused = await stack.api.post(path, json={"token": token})
    assert refused.status_code == 422, refused.text
    named = {
        (e.get("question") or e.get("consent"), e.get("attendee")) for e in refused.json()["errors"]
    }
    assert named == {("company", None), ("dob", 0), ("dob", 1), ("waiver", None)}
    starts = datetime.fromisoformat(
        (await stack.api.get(f"/v1/sessions/{session_id}")).json()["starts_at"]
    )
    too_young = starts.date().replace(year=starts.year - 17).isoformat()
    answers: list[dict[str, Any]] = [
        {"question": "company", "value": "Quennell Ironworks"},
        {"question": "dob", "attendee": 0, "value": "1980-05-17"},
        {"question": "dob", "attendee": 1, "value": too_young},
    ]
    consents = [{"consent": "waiver", "version": 1}]
    young = await stack.api.post(
        path, json={"token": token, "answers": answers, "consents": consents}
    )
    assert young.status_code == 422, young.text
    assert [(e["question"], e["attendee"]) for e in young.json()["errors"]] == [("dob", 1)]
    assert (await wl.entry(stack.api, ada))["state"] == "offered"  # still open to answer

    answers[2]["value"] = "1990-01-02"
    accepted = await stack.api.post(
        path, json={"token": token, "answers": answers, "consents": consents}
    )
    assert accepted.status_code == 201, accepted.text
    stored = {(a["question"], a["attendee"]): a["value"] for a in accepted.json()["answers"]}
    assert stored == {
        ("company", None): "Quennell Ironworks",
        ("dob", 0): "1980-05-17",
        ("dob", 1): "1990-01-02",
    }
    assert [c["consent"] for c in accepted.json()["consents"]] == ["waiver"]
    assert (await wl.entry(stack.api, ada))["state"] == "accepted"
