"""Certificate verification codes: what a certificate of attendance prints for anyone to check
it at `GET /v1/certificates/{code}`. A signed code (core/signed_codes.py) of a version byte and
the certificate's id: 44 characters, signed with the ticket signing keys (a version byte of its
own, and another length, so no ticket code is ever a certificate's)."""

import struct
import uuid

from core.signed_codes import InvalidCode, seal, unseal

_VERSION = 0x43  # "C"
_BODY = struct.Struct(">B16s")


def certificate_code(certificate_id: uuid.UUID, keys: list[str]) -> str:
    return seal(_BODY.pack(_VERSION, certificate_id.bytes), keys)


def certificate_id(code: str, keys: list[str]) -> uuid.UUID:
    """The certificate a code names, if one of the keys signed it; else InvalidCode."""
    version, raw = _BODY.unpack(unseal(code.strip(), _BODY.size, keys, "certificate"))
    if version != _VERSION:
        raise InvalidCode(f"unknown certificate code version {version}")
    return uuid.UUID(bytes=raw)
