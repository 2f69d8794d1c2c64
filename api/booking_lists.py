"""The booking list's query parameters, its page, and its cursor: an opaque, signed position.

A cursor is the last row's (created_at, id), base64url-encoded with an HMAC over it and the
caller's organisation, so a cursor that was altered, made up, or given by another
organisation's key is refused (422 naming `cursor`) rather than read as some other position.
"""

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, ValidationInfo, field_validator

from core.enums import BookingStatus
from core.errors import InvalidRequest
from schemas.bookings import BookingOut
from schemas.fields import QueryMoment
from store.booking_records import BookingFilter, ListPosition

MAX_LIMIT = 100
_TAG_BYTES = 16
_PURPOSE = b"booking-list-cursor\x00"


class BookingListQuery(BaseModel):
    status: list[BookingStatus] = Field([], description="Only these statuses (repeatable)")
    session_id: uuid.UUID | None = None
    created_after: QueryMoment | None = Field(None, description="Created at or after")
    created_before: QueryMoment | None = Field(None, description="Created before")
    updated_after: QueryMoment | None = Field(None, description="Last changed at or after")
    updated_before: QueryMoment | None = Field(None, description="Last changed before")
    customer_email: EmailStr | None = Field(
        None, description="This address however it is cased, spaced or composed (ß as ss)"
    )
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="`next_cursor` of the page before"
    )

    @field_validator("created_before", "updated_before")
    @classmethod
    def _after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get(str(info.field_name).replace("_before", "_after"))
        if end is not None and start is not None and end <= start:
            raise ValueError("must be later than the matching _after")
        return end

    def filter(self, organisation_id: uuid.UUID) -> BookingFilter:
        return BookingFilter(
            organisation_id,
            statuses=self.status,
            session_id=self.session_id,
            created_after=self.created_after,
            created_before=self.created_before,
            updated_after=self.updated_after,
            updated_before=self.updated_before,
            customer_email=self.customer_email,
        )


class BookingPage(BaseModel):
    items: list[BookingOut]
    limit: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class ListCursors:
    """Cursors signed for one organisation, with a key derived from the server's pepper."""

    def __init__(self, secret: str, organisation_id: uuid.UUID) -> None:
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
        self._organisation = organisation_id.bytes

    def write(self, position: ListPosition) -> str:
        body = f"{position.created_at.isoformat()}|{position.id}".encode()
        return base64.urlsafe_b64encode(body + self._tag(body)).decode().rstrip("=")

    def read(self, cursor: str | None) -> ListPosition | None:
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
            if not hmac.compare_digest(tag, self._tag(body)):
                raise ValueError("signature")
            created_at, booking_id = body.decode().split("|")
            return ListPosition(datetime.fromisoformat(created_at), uuid.UUID(booking_id))
        except (ValueError, binascii.Error):
            raise InvalidRequest(
                "the cursor is not one this API gave for this key's organisation",
                errors=[{"field": "query.cursor", "message": "not a cursor from this list"}],
            ) from None

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, self._organisation + body, hashlib.sha256).digest()[:_TAG_BYTES]
