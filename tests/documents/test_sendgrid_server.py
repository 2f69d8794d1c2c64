"""The fake SendGrid server, checked with the real sendgrid client library."""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment, Disposition, FileContent, FileName, FileType, Mail

from documents.calendar_file import render_ics
from tests.fakes.sendgrid_server import FakeSendGrid

API_KEY = "SG.test-key"
PDF = b"%PDF-1.4 pretend receipt\n%%EOF"


@pytest.fixture
def sendgrid_server() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


def client(server: FakeSendGrid, key: str = API_KEY) -> SendGridAPIClient:
    return SendGridAPIClient(key, host=server.url)


def mail() -> Mail:
    message = Mail(
        from_email="bookings@riverside.example",
        to_emails="ada@example.com",
        subject="Booking confirmed: Sourdough for beginners (RFT-2026-0042)",
        plain_text_content="Your booking is confirmed.",
        html_content="<p>Your booking is confirmed.</p>",
    )
    ics = render_ics(
        "booking-1@riverside.example",
        "Sourdough for beginners",
        "Kitchen 2, Bristol",
        "Booking RFT-2026-0042",
        datetime(2026, 4, 14, 18, 0, tzinfo=UTC),
        datetime(2026, 4, 14, 21, 30, tzinfo=UTC),
        "bookings@riverside.example",
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    )
    message.attachment = [
        _attachment(PDF, "receipt.pdf", "application/pdf"),
        _attachment(ics, "session.ics", "text/calendar"),
    ]
    return message


def _attachment(content: bytes, filename: str, mime: str) -> Attachment:
    encoded = base64.b64encode(content).decode()
    return Attachment(
        FileContent(encoded), FileName(filename), FileType(mime), Disposition("attachment")
    )


def raw_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = mail().get()
    body.update(changes)
    return body


def post(server: FakeSendGrid, body: dict[str, Any], key: str = API_KEY) -> Any:
    return client(server, key).client.mail.send.post(request_body=body)


def errors_of(error: HTTPError) -> list[dict[str, Any]]:
    return json.loads(error.body)["errors"]  # type: ignore[no-any-return]


def test_accepted_mail_is_recorded_with_decodable_attachments(
    sendgrid_server: FakeSendGrid,
) -> None:
    response = client(sendgrid_server).send(mail())
    assert response.status_code == 202
    assert response.body == b""
    (recorded,) = sendgrid_server.requests
    assert recorded.headers["authorization"] == f"Bearer {API_KEY}"
    assert recorded.body["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    files = {a["filename"]: a for a in recorded.body["attachments"]}
    assert base64.b64decode(files["receipt.pdf"]["content"]) == PDF
    ics = base64.b64decode(files["session.ics"]["content"])
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n")
    assert files["session.ics"]["type"] == "text/calendar"


def test_missing_to_is_a_bad_request(sendgrid_server: FakeSendGrid) -> None:
    with pytest.raises(HTTPError) as caught:
        post(sendgrid_server, raw_body(personalizations=[{"subject": "Hi"}]))
    assert caught.value.status_code == 400
    assert errors_of(caught.value)[0]["field"] == "personalizations.0.to"
    assert sendgrid_server.requests == []


def test_bad_base64_is_a_bad_request(sendgrid_server: FakeSendGrid) -> None:
    attachment = {"content": "not base64!", "filename": "receipt.pdf", "type": "application/pdf"}
    with pytest.raises(HTTPError) as caught:
        post(sendgrid_server, raw_body(attachments=[attachment]))
    assert caught.value.status_code == 400
    assert errors_of(caught.value) == [
        {
            "message": "The attachment content must be base64 encoded.",
            "field": "attachments.0.content",
            "help": None,
        }
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"from": {}}, "from.email"),
        ({"subject": None}, "subject"),
        ({"content": []}, "content"),
        ({"attachments": [{"content": "SGk="}]}, "attachments.0.filename"),
        ({"attachments": [{"filename": "a.pdf"}]}, "attachments.0.content"),
    ],
)
def test_other_required_fields(
    sendgrid_server: FakeSendGrid, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(HTTPError) as caught:
        post(sendgrid_server, raw_body(**changes))
    assert caught.value.status_code == 400
    assert errors_of(caught.value)[0]["field"] == field


def test_subject_may_live_in_the_personalization(sendgrid_server: FakeSendGrid) -> None:
    body = raw_body(subject=None)
    body["personalizations"][0]["subject"] = "Hi"
    assert post(sendgrid_server, body).status_code == 202


def test_fail_next_fails_that_many_requests_then_recovers(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.fail_next(2, 500)
    for _ in range(2):
        with pytest.raises(HTTPError) as caught:
            client(sendgrid_server).send(mail())
        assert caught.value.status_code == 500
    assert client(sendgrid_server).send(mail()).status_code == 202
    assert len(sendgrid_server.requests) == 1


def test_fail_next_can_rate_limit(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.fail_next(1, 429)
    with pytest.raises(HTTPError) as caught:
        client(sendgrid_server).send(mail())
    assert caught.value.status_code == 429


def test_wrong_key_is_unauthorized(sendgrid_server: FakeSendGrid) -> None:
    with pytest.raises(HTTPError) as caught:
        client(sendgrid_server, "SG.wrong").send(mail())
    assert caught.value.status_code == 401
    assert sendgrid_server.requests == []
