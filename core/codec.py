"""Encrypts every payload Temporal stores (inputs, results, signals, queries, failures' details):
customers' names, emails and special requirements never lie in clear in workflow history.

AES-256-GCM with a fresh nonce per payload; the key id travels in the payload's metadata and
is bound to the ciphertext, so keys rotate: the current key encrypts, every listed key
decrypts, and a history written under an old key still replays. Search attributes and
summaries are not payloads: nothing personal may go there.
"""

import base64
import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keys:
            raise ValueError(f"no payload key named {current_key_id!r}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._current]
        key_id = self._current.encode()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Payloads written before encryption existed pass through as they are."""
        return [self._open(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata[KEY_ID]
        cipher = self._ciphers.get(key_id.decode())
        if cipher is None:
            raise ValueError(f"payload encrypted with unknown key {key_id.decode()!r}")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        return Payload.FromString(cipher.decrypt(nonce, sealed, key_id))


def parse_keys(encoded: Mapping[str, str]) -> dict[str, bytes]:
    """Key id -> base64 of 32 random bytes (e.g. `openssl rand -base64 32`)."""
    keys = {key_id: base64.b64decode(value, validate=True) for key_id, value in encoded.items()}
    short = sorted(key_id for key_id, key in keys.items() if len(key) != 32)
    if short:
        raise ValueError(f"payload keys must be 32 bytes (AES-256): {short}")
    return keys


def encrypting_converter(keys: Mapping[str, str], current_key_id: str) -> DataConverter:
    codec = EncryptionCodec(parse_keys(keys), current_key_id)
    return dataclasses.replace(DataConverter.default, payload_codec=codec)
