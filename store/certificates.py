"""Certificates of attendance (issued by activities/certificates.py): found by place or by
their verification code, reissued (emailed again) under the same number."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.certificates import certificate_id
from core.errors import CertificateNotFound, InvalidRequest
from core.signed_codes import InvalidCode
from models.tables import Booking, Certificate


@dataclass(frozen=True)
class Verified:
    """All a verification reveals."""

    valid: bool
    attendee_name: str
    course_title: str


async def find_certificate(
    db: AsyncSession, booking_id: uuid.UUID, index: int
) -> Certificate | None:
    return await db.scalar(
        select(Certificate).where(
            Certificate.booking_id == booking_id, Certificate.attendee_index == index
        )
    )


async def verify_certificate(db: AsyncSession, code: str, keys: list[str]) -> Verified:
    """What a verification code certifies; CertificateNotFound for any code not ours."""
    try:
        key = certificate_id(code, keys)
    except InvalidCode:
        raise CertificateNotFound("no certificate has this verification code") from None
    certificate = await db.get(Certificate, key)
    if certificate is None:
        raise CertificateNotFound("no certificate has this verification code")
    return Verified(
        certificate.revoked_at is None, certificate.attendee_name, certificate.course_title
    )


async def next_reissue(db: AsyncSession, booking: Booking, index: int) -> Certificate:
    """The place's certificate, counted once more reissued (not committed)."""
    certificate = await db.scalar(
        select(Certificate)
        .where(Certificate.booking_id == booking.id, Certificate.attendee_index == index)
        .with_for_update()
    )
    if certificate is None:
        raise CertificateNotFound(
            f"place {index + 1} of booking {booking.reference or booking.id} has no certificate"
        )
    if certificate.revoked_at is not None:
        raise InvalidRequest(f"certificate {certificate.number} is void: its place is a no-show")
    certificate.reissues += 1
    return certificate
