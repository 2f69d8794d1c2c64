"""One settings object for every process, read from the environment, `.env` and secret files."""

import os
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.enums import Role, TracingExporter

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Dev-only secrets: fine on a laptop, refused when BOOKING_ENV=production.
DEV_PAYLOAD_KEY = "ZGV2LW9ubHkgcGF5bG9hZCBrZXksIG5vdCBzZWNyZXQ="  # 32 bytes, published here
DEV_CUSTOMER_HASH_KEY = "dev-only customer hash key, not secret"
DEV_API_KEY_PEPPER = "dev-only api key pepper, not secret"
DEV_WEBHOOK_SECRET_KEY = "ZGV2LW9ubHkgd2ViaG9vayBzZWNyZXQga2V5ISEhISE="  # a Fernet key, published
DEV_TICKET_SIGNING_KEY = "dev-only ticket signing key, not secret"
# The demo seller: the default organisation's profile at migration 0013, refused in production.
DEMO_SELLER_NAME = "Rescue First Training Ltd"
DEMO_REFERENCE_PREFIX = "RFT"
DEV_SECRETS = {
    "sk_test_localstripe",
    "whsec_dev_secret",
    "dev-client-key",
    "dev-admin-key",
    DEV_PAYLOAD_KEY,
    DEV_CUSTOMER_HASH_KEY,
    DEV_API_KEY_PEPPER,
    DEV_WEBHOOK_SECRET_KEY,
    DEV_TICKET_SIGNING_KEY,
}


def known_locale(value: str) -> str:
    """A CLDR locale that babel knows, e.g. en_GB (the platform's and each organisation's)."""
    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise ValueError(f"unknown locale {value!r}, e.g. en_GB") from None
    return value


# Hosts a customer's browser would look for on their own machine.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# Domains reserved for examples and tests (RFC 2606, RFC 6761): mail from them reaches nobody.
RESERVED_DOMAINS = (".example", ".test", ".invalid", ".localhost")
# The variable naming a directory of settings as files (Docker and Kubernetes secrets), each file
# named like its variable (BOOKING_STRIPE_API_KEY) and holding the value; the environment wins.
SECRETS_DIR_VARIABLE = "BOOKING_SECRETS_DIR"


def _dev_api_keys(settings: dict[str, object]) -> dict[str, Role]:
    """The dev bootstrap keys, none in production (keys are made with `booking-ops keys`)."""
    if settings.get("env") == "production":
        return {}
    return {"dev-client-key": Role.CLIENT, "dev-admin-key": Role.ADMIN}


def _not_production(settings: dict[str, object]) -> bool:
    return settings.get("env") != "production"


def _loopback() -> list[IPv4Network | IPv6Network]:
    return [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"

    database_url: str = "postgresql+asyncpg://booking@127.0.0.1:55432/booking"
    database_pool_size: int = 10

    # Temporal is reached through the SDK's client configuration (temporalio.envconfig, see
    # core/temporal.py): a profile of a TOML file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) and
    # the TEMPORAL_* environment; each BOOKING_TEMPORAL_* setting that is set overrides it. The
    # address and namespace below apply only when neither the profile nor the setting names one.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_config_file: Path | None = None
    temporal_profile: str | None = None
    # An API key (Temporal Cloud) turns TLS on, and so does any certificate below;
    # `temporal_tls` forces TLS on (a server with a publicly trusted certificate) or off.
    temporal_api_key: str | None = None
    temporal_tls: bool | None = None
    temporal_tls_server_ca_cert: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    task_queue: str = "bookings"
    # Payload encryption (core/codec.py): key id -> base64 of 32 bytes. The current id
    # encrypts; every listed key decrypts, so rotate by adding a key and switching the id.
    payload_keys: dict[str, str] = Field(default_factory=lambda: {"dev-1": DEV_PAYLOAD_KEY})
    payload_key_id: str = "dev-1"
    # Keys the CustomerHash search attribute (core/customer_hash.py). Changing it changes every
    # hash: bookings started before the change are no longer found by email.
    customer_hash_key: str = DEV_CUSTOMER_HASH_KEY
    # The platform operators' credential (`Authorization: Bearer <token>`): the codec server
    # (api/routes/codec.py) requires it once set. Unset, the codec server answers only callers
    # from `codec_open_networks`, and nobody at all when BOOKING_ENV=production.
    operator_token: str | None = None
    codec_open_networks: list[IPvAnyNetwork] = Field(default_factory=_loopback)
    # Browser origins of the Temporal UI allowed to call the codec server (CORS).
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"]
    )
    # Each cached workflow stays in memory (about 150 KB with the sandbox).
    worker_max_cached_workflows: int = 300
    # Run workflows in the SDK's sandbox, which refuses non-deterministic calls (I/O, clocks,
    # random) at run time. Its price is per workflow task and per payload (about a fifth of the
    # worker's CPU per booking, issue 13); the tests and the history replays keep it on, so a
    # forbidden call is caught there before it ships.
    worker_sandbox: bool = False
    # host:port of the worker's Prometheus metrics and of its health checks (GET /healthz: the
    # process answers; /readyz: it polls Temporal). Loopback suits a laptop; in a container,
    # 0.0.0.0 lets Prometheus and the orchestrator reach them.
    worker_metrics_address: str = "127.0.0.1:9464"
    worker_health_address: str = "127.0.0.1:9465"
    # On SIGTERM or SIGINT the worker stops taking tasks and lets running activities finish for
    # this long; those still running then are cancelled and retried by another worker.
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    # OpenTelemetry traces of requests, workflows and activities (core/tracing.py): "otlp"
    # exports to OTEL_EXPORTER_OTLP_ENDPOINT (the standard OTEL_* variables apply), "console"
    # prints them; needs the `tracing` extra.
    tracing: TracingExporter = TracingExporter.OFF

    stripe_api_key: str = "sk_test_localstripe"
    # None talks to real Stripe; a URL talks to localstripe.
    stripe_api_base: str | None = "http://127.0.0.1:8420"
    stripe_webhook_secret: str = "whsec_dev_secret"
    # The secret of a Stripe Connect webhook endpoint (connected accounts' events), if it is
    # configured apart from the account endpoint's; both reach /v1/webhooks/stripe.
    stripe_connect_webhook_secret: str | None = None
    stripe_webhook_tolerance_seconds: int = 300

    # Dev bootstrap only: secret -> role ("client" or "admin"), stored hashed in the default
    # organisation when the API starts. Real keys are made with `booking-ops keys create`;
    # refused in production.
    api_keys: dict[str, Role] = Field(default_factory=_dev_api_keys)
    # Keys the stored hashes of API keys (store/api_keys.py). Changing it voids every key.
    api_key_pepper: str = DEV_API_KEY_PEPPER
    # Requests per minute per API key unless the key has its own limit, counted in fixed
    # windows of `rate_limit_window_seconds` (the limit scaled to the window). The counts live
    # in `rate_limit_storage_url`: in memory (per API process) or shared, e.g.
    # "async+redis://host:6379" (needs the `limits[async-redis]` extra) for one global limit.
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_storage_url: str = "async+memory://"
    # Bodies larger than this are refused with 413 before they are read (the webhook's too).
    max_request_body_bytes: int = 1024 * 1024
    # No API call waits without bound on Temporal. A booking's setup answers within this or
    # 503 (the same Idempotency-Key finds the booking later); it covers the setup's own bounds.
    booking_start_wait_seconds: float = 60.0
    # Where a waiting-list offer's email sends its customer: the shop's page that accepts it
    # (POST /v1/waiting-list/{entry_id}/accept with the token).
    waiting_list_accept_url: str = (
        "http://localhost:8000/waiting-list/{entry_id}/accept?token={token}"
    )
    # Temporal must accept a message to a workflow (a cancel, a payment event) within this,
    # else 503; a cancel then waits this long for its outcome, else 202 with the booking as it
    # stands (the workflow finishes it durably).
    workflow_accept_seconds: float = 10.0
    cancel_wait_seconds: float = 10.0

    # What happens around the hold timer (the hold length itself is a per-session setting).
    hold_extension_seconds: int = 60
    max_hold_extensions: int = 5
    # Stripe retries webhooks for three days: a closed booking keeps listening that long.
    late_payment_window_seconds: int = 3 * 24 * 3600
    # How long a hold's end (or a cancel) waits for Stripe before releasing the places anyway;
    # a payment that succeeds later is refunded as late money.
    payment_grace_seconds: int = 10
    # The safety net (a Temporal Schedule) runs this often; it releases the places of bookings
    # whose workflow has ended, or pending this long past their hold, and refunds unclaimed money.
    safety_net_interval_seconds: int = 300
    safety_net_hold_grace_seconds: int = 300

    # The default organisation's seller profile when migration 0013 created it; since then
    # each organisation's profile (GET/PATCH /v1/organisation) is what its documents print.
    # Prices include VAT; the rate is in basis points.
    seller_name: str = DEMO_SELLER_NAME
    seller_address: list[str] = Field(
        default_factory=lambda: ["12 Harbour Street", "Bristol BS1 4QA", "United Kingdom"]
    )
    seller_country: str = "GB"
    seller_vat_number: str | None = "GB 123 4567 82"  # made up, but its check digits hold
    # The default organisation's prefixes: references `RFT-2026-0001`, receipts
    # `R-2026-000001`, credit notes `CN-2026-000001`, each gapless per organisation and year.
    reference_prefix: str = DEMO_REFERENCE_PREFIX
    receipt_prefix: str = "R"
    credit_note_prefix: str = "CN"
    # Platform defaults for new organisations' profiles (and the default organisation's at
    # migration 0013): VAT rate, currency, time zone, and how documents and emails write dates
    # and money (a CLDR locale, e.g. en_GB, en_US, de_DE).
    vat_rate_basis_points: int = 2000
    default_currency: str = "GBP"
    default_time_zone: str = "UTC"
    locale: str = "en_GB"

    # Email: "outbox" writes .eml files under var/outbox (dev); "sendgrid" calls the v3 API.
    email_backend: Literal["outbox", "sendgrid"] = "outbox"
    email_from: str = "bookings@rescuefirst.example"
    outbox_dir: Path = PROJECT_ROOT / "var" / "outbox"
    sendgrid_api_key: str = ""
    sendgrid_host: str = "https://api.sendgrid.com"
    reminder_before_seconds: int = 24 * 3600

    # Webhooks out. Endpoints' signing secrets are stored encrypted with these Fernet keys
    # (url-safe base64 of 32 bytes): the first encrypts, every one decrypts, so rotate by
    # putting a new key first and keeping the old ones, which still open older secrets.
    webhook_secret_keys: list[str] = Field(default_factory=lambda: [DEV_WEBHOOK_SECRET_KEY])
    # A delivery is retried with exponential backoff (from the first interval, doubling, capped)
    # on timeouts, connection errors, 5xx and 429, for this long in all, then marked failed.
    webhook_retry_first_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_interval_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=3 * 24 * 3600.0, gt=0)
    # One HTTP attempt (connect to last byte) gives up after this.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Off, a webhook whose host resolves to a loopback, private, link-local or otherwise
    # non-public address is refused (not retried): tenants cannot make the worker call the
    # platform's own network. Unset: off in production, on elsewhere (local receivers).
    webhook_allow_private_addresses: bool = Field(default_factory=_not_production)

    # Sign the ticket codes of QR codes at the door (core/tickets.py, HMAC-SHA256): the first key
    # signs, every one verifies, so rotate by putting a new key first and keeping the old ones
    # until the tickets they signed are past their sessions. Dropping a key voids its tickets.
    ticket_signing_keys: list[str] = Field(
        default_factory=lambda: [DEV_TICKET_SIGNING_KEY], min_length=1
    )
    # An organiser may correct a place's attendance (attended or no-show) for this long after
    # its session ended (store/attendance.py); later corrections are refused (409).
    attendance_correction_days: int = Field(default=7, ge=0)

    # An empty variable (compose's `${VAR:-}`) means unset; for the Stripe base, real Stripe.
    @field_validator(
        "stripe_api_base",
        "temporal_config_file",
        "temporal_profile",
        "temporal_api_key",
        "temporal_tls",
        "temporal_tls_server_ca_cert",
        "temporal_tls_server_name",
        "temporal_tls_client_cert",
        "temporal_tls_client_key",
        mode="before",
    )
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return known_locale(value)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        if self.env != "production":
            return self
        if self.api_keys:
            raise ValueError("BOOKING_API_KEYS is a dev bootstrap: use `booking-ops keys create`")
        used = {
            self.stripe_api_key,
            self.stripe_webhook_secret,
            *self.payload_keys.values(),
            self.api_key_pepper,
            self.customer_hash_key,
            *self.webhook_secret_keys,
            *self.ticket_signing_keys,
        } & DEV_SECRETS
        if used:
            raise ValueError(f"production settings use dev secrets: {sorted(used)}")
        demo = self._demo_values_customers_would_meet()
        if demo:
            raise ValueError(f"production settings keep demo values: {'; '.join(demo)}")
        return self

    def _demo_values_customers_would_meet(self) -> list[str]:
        """Dev defaults that would reach a customer in production; the seller and prefixes are the
        default organisation's profile when migration 0013 creates it."""
        demo = []
        if ("." + self.email_from.rsplit("@", 1)[-1]).endswith(RESERVED_DOMAINS):
            demo.append(f"BOOKING_EMAIL_FROM {self.email_from!r} is a demo sender")
        if self.email_backend == "outbox":
            demo.append("BOOKING_EMAIL_BACKEND=outbox writes files: no customer gets an email")
        if self.stripe_api_base is not None:
            demo.append("BOOKING_STRIPE_API_BASE is set (localstripe): set it empty for Stripe")
        if urlsplit(self.waiting_list_accept_url).hostname in LOCAL_HOSTS:
            demo.append("BOOKING_WAITING_LIST_ACCEPT_URL points at this machine, not the shop")
        if self.seller_name == DEMO_SELLER_NAME:
            demo.append(f"BOOKING_SELLER_NAME is the demo company's ({DEMO_SELLER_NAME})")
        if self.reference_prefix == DEMO_REFERENCE_PREFIX:
            demo.append("BOOKING_REFERENCE_PREFIX is the demo company's (RFT-...)")
        return demo


@lru_cache
def get_settings() -> Settings:
    return Settings(_secrets_dir=os.environ.get(SECRETS_DIR_VARIABLE))  # type: ignore[call-arg]
