"""A local HTTP server speaking SendGrid's v3 mail-send API, recording what it accepts.

It also answers the Email Activity query `GET /v3/messages?query=unique_args['K']="V"`
over the messages it accepted, which is how a sender checks whether a key already went out.
"""

import base64
import binascii
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_server import LocalHTTPServer

MAIL_SEND_PATH = "/v3/mail/send"
MESSAGES_PATH = "/v3/messages"
_UNIQUE_ARG_QUERY = re.compile(r"unique_args\['([^']+)'\]\s*=\s*\"([^\"]*)\"")


@dataclass(frozen=True)
class RecordedRequest:
    body: dict[str, Any]
    # Header names lower-cased, so lookups do not depend on the client's spelling.
    headers: dict[str, str]


class BadRequest(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class FakeSendGrid(LocalHTTPServer):
    """`POST /v3/mail/send` on 127.0.0.1, answered from a background thread.

    Works with any event loop (or none) in the test, since it owns its own thread.
    """

    def __init__(self, api_key: str = "SG.test-key", *, email_activity_api: bool = True) -> None:
        self.api_key = api_key
        # False: an account without the paid Email Activity add-on (its queries answer 403).
        self.email_activity_api = email_activity_api
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[int] = []
        super().__init__(_handler_for(self), "fake-sendgrid")

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every accepted request, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next `n` requests (mail sends and Email Activity queries) with `status`."""
        with self._lock:
            self._failures.extend([status] * n)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()

    def _take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


def validate_mail(body: Any) -> None:
    """Raise BadRequest the way SendGrid words it for a mail-send body it would refuse."""
    if not isinstance(body, dict):
        raise BadRequest("Bad Request", None)
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        raise BadRequest("The personalizations field is required.", "personalizations")
    for index, personalization in enumerate(personalizations):
        field = f"personalizations.{index}.to"
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            message = "The to array is required for all personalization objects."
            raise BadRequest(message, field)
        for position, recipient in enumerate(to):
            _require_email(recipient, f"{field}.{position}.email")
    _require_email(body.get("from"), "from.email")
    if "reply_to" in body:
        _require_email(body["reply_to"], "reply_to.email")
    has_template = bool(body.get("template_id"))
    subjects = [p.get("subject") for p in personalizations]
    if not (body.get("subject") or all(subjects) or has_template):
        raise BadRequest("The subject is required.", "subject")
    _check_content(body.get("content"), has_template)
    _check_attachments(body.get("attachments", []))


def _require_email(address: Any, field: str) -> None:
    email = address.get("email") if isinstance(address, dict) else None
    if not isinstance(email, str) or "@" not in email.strip("@"):
        raise BadRequest("Does not contain a valid address.", field)


def _check_content(content: Any, has_template: bool) -> None:
    if content is None and has_template:
        return
    if not isinstance(content, list) or not content:
        message = "Unless a valid template_id is provided, the content parameter is required."
        raise BadRequest(message, "content")
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise BadRequest("The content type is required.", f"content.{index}.type")
        if not isinstance(block.get("value"), str) or not block["value"]:
            message = "The content value must be a string at least one character in length."
            raise BadRequest(message, f"content.{index}.value")


def _check_attachments(attachments: Any) -> None:
    if not isinstance(attachments, list):
        raise BadRequest("The attachments field must be an array.", "attachments")
    for index, attachment in enumerate(attachments):
        field = f"attachments.{index}"
        if not isinstance(attachment, dict):
            raise BadRequest("An attachment must be an object.", field)
        content = attachment.get("content")
        if not isinstance(content, str) or not content:
            raise BadRequest("The attachment content is required.", f"{field}.content")
        try:
            base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            message = "The attachment content must be base64 encoded."
            raise BadRequest(message, f"{field}.content") from None
        filename = attachment.get("filename")
        if not isinstance(filename, str) or not filename:
            message = "The attachment filename parameter is required."
            raise BadRequest(message, f"{field}.filename")
        kind = attachment.get("type")
        if kind is not None and (not isinstance(kind, str) or any(c in kind for c in ";\r\n")):
            message = "The attachment type cannot contain ';', or CRLF characters."
            raise BadRequest(message, f"{field}.type")


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != MAIL_SEND_PATH:
                self._errors(404, "Not found", None)
            elif (status := fake._take_failure()) is not None:
                self._errors(status, f"simulated failure ({status})", None)
            elif self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                self._errors(401, "The provided authorization grant is invalid.", None)
            else:
                self._send_mail(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path != MESSAGES_PATH:
                self._errors(404, "Not found", None)
            elif (status := fake._take_failure()) is not None:
                self._errors(status, f"simulated failure ({status})", None)
            elif self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                self._errors(401, "The provided authorization grant is invalid.", None)
            elif not fake.email_activity_api:
                self._errors(403, "access forbidden: Email Activity is an add-on", None)
            else:
                self._find_messages(urllib.parse.parse_qs(query).get("query", [""])[0])

        def _find_messages(self, query: str) -> None:
            match = _UNIQUE_ARG_QUERY.fullmatch(query.strip())
            if match is None:
                self._errors(400, "query must be unique_args['name']=\"value\"", "query")
                return
            name, value = match.groups()
            found = [
                {"msg_id": f"fake-{i}", "to_email": r.body["personalizations"][0]["to"][0]["email"]}
                for i, r in enumerate(fake.requests)
                if r.body.get("custom_args", {}).get(name) == value
            ]
            self._answer(200, json.dumps({"messages": found}).encode(), "application/json")

        def _send_mail(self, raw: bytes) -> None:
            try:
                parsed = json.loads(raw)
                validate_mail(parsed)
            except json.JSONDecodeError:
                self._errors(400, "Bad Request", None)
            except BadRequest as error:
                self._errors(400, error.message, error.field)
            else:
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake._record(RecordedRequest(parsed, headers))
                self._answer(202, b"")

        def _errors(self, status: int, message: str, field: str | None) -> None:
            payload = {"errors": [{"message": message, "field": field, "help": None}]}
            self._answer(status, json.dumps(payload).encode(), "application/json")

        def _answer(self, status: int, payload: bytes, content_type: str | None = None) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
