"""A complete production configuration: every dev secret and demo value replaced, so a test
changes one setting and sees what production says of it alone."""

from typing import Any

from cryptography.fernet import Fernet

PRODUCTION: dict[str, Any] = {
    "env": "production",
    "api_keys": {},
    "stripe_api_key": "sk_live_x",
    "stripe_webhook_secret": "whsec_live",
    "payload_keys": {"live": "bGl2ZSBwYXlsb2FkIGtleSBvZiAzMiBieXRlcyEhISE="},
    "payload_key_id": "live",
    "api_key_pepper": "live pepper",
    "customer_hash_key": "live hash key",
    "webhook_secret_keys": [Fernet.generate_key().decode()],
    "ticket_signing_keys": ["live ticket key"],
    "stripe_api_base": None,
    "email_backend": "sendgrid",
    "email_from": "bookings@training.co.uk",
    "seller_name": "Training Co Ltd",
    "reference_prefix": "TC",
    "waiting_list_accept_url": "https://training.co.uk/waiting-list/{entry_id}/accept?t={token}",
}
