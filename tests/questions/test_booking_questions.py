"""Booking questions and consents against the real servers: the set kept per session with its
consent versions, answers checked at `POST /v1/bookings` (422 naming the attendee and the
question), stored with their question as it was, in the CSV, the customer's export and gone
with their erasure, part of the request's fingerprint, and never in clear in workflow history."""

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client

from messages.booking import BookingWorkflowInput, booking_workflow_id
from tests.api.conftest import ADMIN
from tests.helpers.api_bookings import booking_body, erase_at_rest
from tests.helpers.stack import Stack

COMPANY = "Quennell Ironworks of Hebden Bridge"
WAIVER = "I declare that I am fit to take part in practical first aid training."
QUESTIONS: dict[str, Any] = {
    "questions": [
        {"key": "company", "label": "Company", "type": "text", "required": True},
        {
            "key": "dob",
            "label": "Date of birth",
            "type": "date",
            "scope": "attendee",
            "required": True,
            "min_age": 18,
            "help_text": "Attendees must be 18 on the day of the course.",
        },
        {"key": "years", "label": "Years in the trade", "type": "number"},
        {"key": "diet", "label": "Lunch", "type": "single_choice", "options": ["veg", "meat"]},
        {
            "key": "kit",
            "label": "Kit to borrow",
            "type": "multiple_choice",
            "scope": "attendee",
            "options": ["gloves", "mask", "apron"],
        },
        {"key": "parking", "label": "Parking space?", "type": "yes_no", "required": True},
    ],
    "consents": [{"key": "waiver", "title": "Medical waiver", "text": WAIVER}],
}


async def with_questions(stack: Stack, **changes: Any) -> tuple[str, date]:
    """A new session asking QUESTIONS (with `changes`), and its date (the session is in UTC)."""
    session_id = await stack.new_session(capacity=10)
    put = await stack.api.put(
        f"/v1/sessions/{session_id}/questions", json={**QUESTIONS, **changes}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    starts = (await stack.api.get(f"/v1/sessions/{session_id}")).json()["starts_at"]
    return session_id, datetime.fromisoformat(starts).date()


def adult_on(day: date) -> str:
    """A date of birth 18 years before `day`: 18 that very day."""
    return day.replace(year=day.year - 18).isoformat()


def answers(day: date, company: str = COMPANY) -> list[dict[str, Any]]:
    return [
        {"question": "company", "value": company},
        {"question": "dob", "attendee": 0, "value": adult_on(day)},
        {"question": "dob", "attendee": 1, "value": "1980-05-17"},
        {"question": "years", "value": 12},
        {"question": "diet", "value": "veg"},
        {"question": "kit", "attendee": 1, "value": ["mask", "gloves"]},
        {"question": "parking", "value": False},
    ]


def body(session_id: str, day: date, **changes: Any) -> dict[str, Any]:
    customer = {"name": "Philippa Quennell", "email": f"pq.{uuid.uuid4().hex[:8]}@example.org"}
    fields = {
        "answers": answers(day),
        "consents": [{"consent": "waiver", "version": 1}],
        "customer": customer,
        **changes,
    }
    return booking_body(session_id, 2, **fields)


async def book(
    api: httpx.AsyncClient, sent: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await api.post(
        "/v1/bookings", json=sent, headers={"Idempotency-Key": key or str(uuid.uuid4())}
    )


async def test_the_set_is_kept_per_session_and_a_changed_consent_text_is_a_new_version(
    stack: Stack,
) -> None:
    session_id, _ = await with_questions(stack)
    path = f"/v1/sessions/{session_id}/questions"
    read = (await stack.api.get(path)).json()  # a client key reads it: a booking form shows it
    assert [q["key"] for q in read["questions"]] == [q["key"] for q in QUESTIONS["questions"]]
    assert read["questions"][1]["min_age"] == 18 and read["questions"][1]["scope"] == "attendee"
    assert read["consents"] == [{**QUESTIONS["consents"][0], "version": 1}]

    again = await stack.api.put(path, json=QUESTIONS, headers=ADMIN)
    assert again.json()["consents"][0]["version"] == 1  # the same text keeps its version
    changed = {"consents": [{"key": "waiver", "title": "Medical waiver", "text": WAIVER + "!"}]}
    put = await stack.api.put(path, json={**QUESTIONS, **changed}, headers=ADMIN)
    assert put.json()["consents"][0]["version"] == 2

    assert (await stack.api.put(path, json=QUESTIONS)).status_code == 403  # admins only
    no_options = {"questions": [{"key": "diet", "label": "Lunch", "type": "single_choice"}]}
    refused = await stack.api.put(path, json=no_options, headers=ADMIN)
    assert refused.status_code == 422 and "options" in refused.text
    twice = {"questions": [QUESTIONS["questions"][0]] * 2}
    assert (await stack.api.put(path, json=twice, headers=ADMIN)).status_code == 422


async def test_answers_are_stored_with_their_question_as_it_was_and_shown_in_the_csv(
    stack: Stack,
) -> None:
    session_id, day = await with_questions(stack)
    created = await book(stack.api, body(session_id, day))
    assert created.status_code == 201, created.text
    booking = created.json()
    stored = {(a["question"], a["attendee"]): a for a in booking["answers"]}
    assert stored[("company", None)]["value"] == COMPANY
    assert stored[("dob", 0)]["value"] == adult_on(day)  # 18 on the session's day: taken
    assert stored[("kit", 1)]["value"] == ["gloves", "mask"]  # in the options' order
    assert stored[("parking", None)] == {
        "question": "parking",
        "label": "Parking space?",
        "type": "yes_no",
        "attendee": None,
        "value": False,
    }
    [consent] = booking["consents"]
    assert (consent["consent"], consent["version"]) == ("waiver", 1)
    assert datetime.fromisoformat(consent["accepted_at"]).utcoffset() is not None

    # The organiser drops a question and renames another: what was answered stays readable.
    renamed = [{**QUESTIONS["questions"][0], "label": "Employer"}, *QUESTIONS["questions"][1:5]]
    path = f"/v1/sessions/{session_id}/questions"
    assert (await stack.api.put(path, json={"questions": renamed}, headers=ADMIN)).is_success
    read = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert read["answers"] == booking["answers"] and read["consents"] == booking["consents"]

    response = await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)
    assert response.status_code == 200, response.text
    [row] = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    assert row["answer:company"] == COMPANY
    assert row["answer:dob"] == f"#1 {adult_on(day)}; #2 1980-05-17"
    assert row["answer:years"] == "12" and row["answer:diet"] == "veg"
    assert row["answer:kit"] == "#2 gloves | mask"
    assert row["other_answers"] == "Parking space?: no"  # no longer asked
    name, version, accepted_at = row["consents"].split(" ")
    assert (name, version) == ("waiver", "v1")
    assert datetime.fromisoformat(accepted_at) == datetime.fromisoformat(consent["accepted_at"])


async def test_wrong_answers_are_refused_naming_the_attendee_and_the_question(
    stack: Stack,
) -> None:
    session_id, day = await with_questions(stack)
    too_young = (day.replace(year=day.year - 18) + timedelta(days=1)).isoformat()
    wrong = [
        {"question": "company", "value": COMPANY},
        {"question": "dob", "attendee": 0, "value": too_young},  # 18 the day after
        {"question": "years", "value": "twelve"},
        {"question": "diet", "value": "fish"},
        {"question": "kit", "attendee": 5, "value": ["mask"]},
    ]
    stale = [{"consent": "waiver", "version": 2}]
    refused = await book(stack.api, body(session_id, day, answers=wrong, consents=stale))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith(":invalid-request")
    named = {(e.get("question") or e.get("consent"), e.get("attendee")) for e in problem["errors"]}
    assert named == {
        ("dob", 0),
        ("years", None),
        ("diet", None),
        ("kit", 5),
        ("dob", 1),  # required, not answered
        ("parking", None),  # required, not answered
        ("waiver", None),  # version 2 is not the current one
    }
    dob = next(e for e in problem["errors"] if e.get("attendee") == 0)
    assert dob["field"] == "answers.1" and "at least 18 years old" in dob["message"]

    no_consent = await book(stack.api, body(session_id, day, consents=[]))
    assert no_consent.status_code == 422 and "must be accepted" in no_consent.text
    for odd in ("Acme\x00 Ltd", "Acme\x07 Ltd", "Acme\x85Ltd"):  # as any text field
        refused = await book(stack.api, body(session_id, day, answers=answers(day, odd)))
        assert refused.status_code == 422 and "answers.0.value" in refused.text
    long_text = answers(day, company="x" * 501)  # the question's default bound
    too_long = await book(stack.api, body(session_id, day, answers=long_text))
    assert too_long.status_code == 422 and "at most 500" in too_long.text


async def test_the_same_key_with_other_answers_is_another_request(stack: Stack) -> None:
    session_id, day = await with_questions(stack)
    sent, key = body(session_id, day), str(uuid.uuid4())
    first = await book(stack.api, sent, key)
    assert first.status_code == 201, first.text
    again = await book(stack.api, sent, key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = await book(stack.api, {**sent, "answers": answers(day, company="Another Ltd")}, key)
    assert other.status_code == 422, other.text
    assert other.json()["type"].endswith(":idempotency-key-reused")
    # A new required question does not turn the booking already made into a refusal.
    more = [*QUESTIONS["questions"], {"key": "po", "label": "PO", "type": "text", "required": True}]
    path = f"/v1/sessions/{session_id}/questions"
    assert (
        await stack.api.put(path, json={**QUESTIONS, "questions": more}, headers=ADMIN)
    ).is_success
    retried = await book(stack.api, sent, key)
    assert retried.status_code == 201 and retried.json()["id"] == first.json()["id"]
    assert (await book(stack.api, sent)).status_code == 422  # a new booking must answer it


async def test_answers_are_exported_with_the_customer_and_erased_with_them(stack: Stack) -> None:
    session_id, day = await with_questions(stack)
    sent = body(session_id, day)
    email = sent["customer"]["email"]
    booking = (await book(stack.api, sent)).json()
    exported = await stack.api.post("/v1/customers/export", json={"email": email}, headers=ADMIN)
    [mine] = exported.json()["bookings"]
    assert mine["answers"] == booking["answers"]
    assert [(c["consent"], c["version"]) for c in mine["consents"]] == [("waiver", 1)]

    assert (await stack.api.post(f"/v1/bookings/{booking['id']}/cancel")).status_code == 200
    await erase_at_rest(stack.api, email, booking["id"])
    erased = (await stack.api.get(f"/v1/bookings/{booking['id']}")).json()
    assert erased["answers"] == [] and erased["customer"]["name"] == "erased"
    assert erased["consents"] == booking["consents"]  # the organiser's evidence: no answer in it
    response = await stack.api.get(f"/v1/sessions/{session_id}/bookings.csv", headers=ADMIN)
    assert COMPANY not in response.text


async def test_answers_travel_encrypted_in_the_workflow_history(stack: Stack) -> None:
    session_id, day = await with_questions(stack)
    company = f"Secretive Answers {uuid.uuid4().hex[:8]}"
    created = await book(stack.api, body(session_id, day, answers=answers(day, company)))
    assert created.status_code == 201, created.text
    # A client without the codec sees what Temporal stores.
    raw = Client(stack.temporal.service_client, namespace=stack.temporal.namespace)
    workflow_id = booking_workflow_id(created.json()["id"])
    history = await raw.get_workflow_handle(workflow_id).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert history.events and company.encode() not in stored
    # ... and the workflow's input does carry them, for the codec to read.
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [given] = await stack.temporal.data_converter.decode(started, [BookingWorkflowInput])
    assert company in [a.value for a in given.request.answers]
