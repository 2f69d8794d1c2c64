"""Where emails go: SendGrid's v3 API, or `.eml` files in an outbox folder (dev)."""

import asyncio
import base64
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, TypeVar

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment as SendGridAttachment
from sendgrid.helpers.mail import CustomArg, From, Mail, ReplyTo

from core.settings import Settings

# Carried with every message, so a retry can ask the provider whether it already went out.
KEY_ARG = "notification_key"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    """One email. It comes from the platform's address (`from_email`, the one its mail
    service may send from) under the selling organisation's name (`from_name`); replies go
    to the organisation's own address when it has one (`reply_to`)."""

    key: str
    to_email: str
    to_name: str
    from_email: str
    from_name: str
    subject: str
    html: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)
    reply_to: str | None = None


def header_text(value: str) -> str:
    """`value` made safe for a header: line breaks and runs of white space fold into one space,
    other control characters go. The API refuses them, but data stored before it did (or by an
    operator) must not stop an email: Python's `email` raises on CR or LF in a header."""
    words = " ".join(value.split())
    return "".join(c for c in words if unicodedata.category(c) != "Cc")


class MailRefused(Exception):
    """The provider said no for good (bad request, bad key): retrying cannot help."""


class MailUnavailable(Exception):
    """Rate limited, a server error or a timeout: worth retrying later."""


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None: ...

    async def was_sent(self, key: str) -> bool: ...


class SendGridMailer:
    """The sendgrid library (blocking) run in a thread, so the event loop never waits on it."""

    def __init__(self, api_key: str, host: str, timeout_seconds: float = 10):
        self._api_key = api_key
        self._host = host
        self._timeout = timeout_seconds

    def _client(self) -> SendGridAPIClient:
        client = SendGridAPIClient(self._api_key, host=self._host)
        client.client.timeout = self._timeout
        return client

    async def send(self, email: OutgoingEmail) -> None:
        await asyncio.to_thread(self._send, email)

    def _send(self, email: OutgoingEmail) -> None:
        mail = Mail(
            from_email=From(email.from_email, header_text(email.from_name)),
            to_emails=(email.to_email, header_text(email.to_name)),
            subject=header_text(email.subject),
            plain_text_content=email.text,
            html_content=email.html,
        )
        mail.custom_arg = CustomArg(KEY_ARG, email.key)
        if email.reply_to:
            mail.reply_to = ReplyTo(email.reply_to)
        for item in email.attachments:
            mail.add_attachment(
                SendGridAttachment(
                    base64.b64encode(item.content).decode(),
                    item.filename,
                    item.content_type,
                    "attachment",
                )
            )
        _call(lambda: self._client().send(mail))

    async def was_sent(self, key: str) -> bool:
        """SendGrid's Email Activity API, queried by our key (it needs that add-on)."""
        query = {"query": f"unique_args['{KEY_ARG}']=\"{key}\"", "limit": 1}
        response = await asyncio.to_thread(
            lambda: _call(lambda: self._client().client.messages.get(query_params=query))
        )
        return bool(json.loads(response.body or b"{}").get("messages"))


T = TypeVar("T")


def _call(request: Callable[[], T]) -> T:
    try:
        return request()
    except (
        http_errors.BadRequestsError,
        http_errors.UnauthorizedError,
        http_errors.ForbiddenError,
        http_errors.PayloadTooLargeError,
    ) as err:
        raise MailRefused(f"SendGrid {err.status_code}: {err.body!r}") from err
    except http_errors.HTTPError as err:
        raise MailUnavailable(f"SendGrid {err.status_code}: {err.body!r}") from err
    except OSError as err:  # connection refused, timeout
        raise MailUnavailable(f"SendGrid unreachable: {err}") from err


class OutboxMailer:
    """Writes each email as `<key>.eml`, with its attachments, for people to open in dev."""

    def __init__(self, folder: Path):
        self._folder = folder

    async def send(self, email: OutgoingEmail) -> None:
        await asyncio.to_thread(self._write, email)

    def _write(self, email: OutgoingEmail) -> None:
        message = EmailMessage()
        message["From"] = _address(email.from_name, email.from_email)
        message["To"] = _address(email.to_name, email.to_email)
        if email.reply_to:
            message["Reply-To"] = _address("", email.reply_to)
        message["Subject"] = header_text(email.subject)
        message["X-Notification-Key"] = email.key
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        for item in email.attachments:
            maintype, subtype = item.content_type.split("/", 1)
            message.add_attachment(
                item.content, maintype=maintype, subtype=subtype, filename=item.filename
            )
        self._folder.mkdir(parents=True, exist_ok=True)
        partial = self._path(email.key).with_suffix(".part")
        partial.write_bytes(bytes(message))
        partial.replace(self._path(email.key))  # appears whole or not at all

    async def was_sent(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    def _path(self, key: str) -> Path:
        return self._folder / f"{key.replace(':', '-')}.eml"


def _address(name: str, email: str) -> Address:
    """Built from its parts: a name holding a comma or quotes stays one address."""
    user, _, domain = email.rpartition("@")
    return Address(header_text(name), user, domain)


def make_mailer(settings: Settings) -> Mailer:
    """SendGrid, or the outbox folder, as `settings.email_backend` says."""
    if settings.email_backend == "sendgrid":
        return SendGridMailer(settings.sendgrid_api_key, settings.sendgrid_host)
    return OutboxMailer(settings.outbox_dir)
