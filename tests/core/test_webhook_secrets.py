"""Endpoints' signing secrets: the Standard Webhooks form, sealed and opened under rotated keys;
and the webhook settings production refuses or defaults differently."""

import base64
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from standardwebhooks import Webhook

from core.settings import DEV_WEBHOOK_SECRET_KEY, Settings
from core.webhook_secrets import new_secret, seal, unseal
from tests.helpers.production import PRODUCTION


def test_a_secret_signs_and_is_sealed_under_the_first_key_and_opened_by_any() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret
    now = datetime.now(UTC)
    Webhook(secret).verify('{"a":1}', _headers(Webhook(secret).sign("msg_1", now, '{"a":1}'), now))
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = seal(secret, [old])
    assert secret not in sealed_before
    assert unseal(sealed_before, [new, old]) == secret  # rotated: the old key still opens it
    with pytest.raises(InvalidToken):
        unseal(sealed_before, [new])


def test_production_refuses_the_dev_key_and_calls_only_public_addresses() -> None:
    assert Settings(env="test").webhook_allow_private_addresses is True
    assert Settings(**PRODUCTION).webhook_allow_private_addresses is False
    with pytest.raises(ValidationError, match="dev secrets"):
        Settings(**{**PRODUCTION, "webhook_secret_keys": [DEV_WEBHOOK_SECRET_KEY]})


def _headers(signature: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
