"""Production refuses the demo values a customer would meet, and settings can come from files
(Docker and Kubernetes secrets mounted in a directory)."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import SECRETS_DIR_VARIABLE, Settings, get_settings
from tests.helpers.production import PRODUCTION


def test_a_complete_production_configuration_is_accepted() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)  # type: ignore[call-arg]
    assert settings.env == "production"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"email_from": "bookings@rescuefirst.example"}, "demo sender"),
        ({"email_from": "shop@localhost"}, "demo sender"),
        ({"email_backend": "outbox"}, "outbox"),
        ({"stripe_api_base": "http://localstripe:8420"}, "localstripe"),
        ({"reference_prefix": "RFT"}, "RFT-"),
        ({"waiting_list_accept_url": "http://localhost:8000/w/{entry_id}?t={token}"}, "shop"),
        ({"seller_name": "Rescue First Training Ltd"}, "demo company"),
    ],
)
def test_production_refuses_a_demo_value(change: dict[str, object], refusal: str) -> None:
    with pytest.raises(ValidationError, match=refusal):
        Settings(_env_file=None, **{**PRODUCTION, **change})  # type: ignore[call-arg]
    Settings(_env_file=None, **{**PRODUCTION, **change, "env": "dev"})  # type: ignore[call-arg]


def test_settings_are_read_from_a_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "BOOKING_STRIPE_API_KEY").write_text("sk_live_from_a_file")
    (tmp_path / "BOOKING_WEBHOOK_SECRET_KEYS").write_text('["a-key", "an-older-key"]')
    monkeypatch.setenv(SECRETS_DIR_VARIABLE, str(tmp_path))
    monkeypatch.delenv("BOOKING_STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("BOOKING_WEBHOOK_SECRET_KEYS", raising=False)
    monkeypatch.setenv("BOOKING_CUSTOMER_HASH_KEY", "the environment wins")
    (tmp_path / "BOOKING_CUSTOMER_HASH_KEY").write_text("from a file")
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert settings.stripe_api_key == "sk_live_from_a_file"
    assert settings.webhook_secret_keys == ["a-key", "an-older-key"]
    assert settings.customer_hash_key == "the environment wins"
