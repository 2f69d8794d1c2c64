"""Endpoints' signing secrets: made in the Standard Webhooks form, stored encrypted.

A secret must be read back to sign, so it cannot be hashed like an API key; it is sealed with
Fernet (AES-CBC + HMAC) under `webhook_secret_keys` and opened only by the delivering worker.
"""

import base64
import secrets

from cryptography.fernet import Fernet, MultiFernet

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes, as `standardwebhooks.Webhook` expects."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal(secret: str, keys: list[str]) -> str:
    return _fernet(keys).encrypt(secret.encode()).decode()


def unseal(sealed: str, keys: list[str]) -> str:
    return _fernet(keys).decrypt(sealed.encode()).decode()


def _fernet(keys: list[str]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])
