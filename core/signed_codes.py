"""Codes that cannot be guessed or forged: a body and an HMAC-SHA256 over it truncated to 16
bytes (RFC 2104 allows truncation to half the hash), as URL-safe base64 without padding.

The first key signs, every one verifies: rotate by putting a new key first and keeping the old
ones until what they signed is no longer used. Ticket codes (core/tickets.py) and certificate
verification codes (core/certificates.py) are such codes, each with its own version byte.
"""

import base64
import hashlib
import hmac
import re

MAC_BYTES = 16


class InvalidCode(ValueError):
    """A code that is not one this platform signed (forged, truncated, altered, an unknown key)."""


def seal(body: bytes, keys: list[str]) -> str:
    """`body` and its MAC under the first key, as one code."""
    if not keys:
        raise ValueError("no signing key")
    return _encode(body + _mac(body, keys[0]))


def unseal(code: str, body_bytes: int, keys: list[str], what: str) -> bytes:
    """The body of a code of `body_bytes` that one of the keys signed; else InvalidCode."""
    characters = -(-(body_bytes + MAC_BYTES) * 4 // 3)  # base64 without padding
    if not re.fullmatch(rf"[A-Za-z0-9_-]{{{characters}}}", code):
        raise InvalidCode(f"not a {what} code")
    raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    if _encode(raw) != code:  # the last character's unused bits: one spelling per code
        raise InvalidCode(f"not a {what} code")
    body, mac = raw[:body_bytes], raw[body_bytes:]
    if not any(hmac.compare_digest(mac, _mac(body, key)) for key in keys):
        raise InvalidCode(f"the {what}'s signature does not match")
    return body


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(body: bytes, key: str) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()[:MAC_BYTES]
