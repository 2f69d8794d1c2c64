"""The chaos test's own stack: every component a subprocess, Stripe and SendGrid behind fault
proxies, Temporal on a file so it can restart. Sized by CHAOS_CUSTOMERS, CHAOS_SECONDS and
CHAOS_SEED (environment variables), so `make test` runs it small and a shell runs it large;
CHAOS_REPORT says where its figures go (var/chaos/last-run.json)."""

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from devstack.fault_proxy import Faults
from devstack.stack import Stack, StackOptions, running
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.webhook_receiver import WebhookReceiver

SENDGRID_KEY = "SG.chaos-key"
# The figures of the last run (for RELIABILITY.md), and every process's log beside them.
REPORT = Path(os.environ.get("CHAOS_REPORT", PROJECT_ROOT / "var" / "chaos" / "last-run.json"))
LOGS = REPORT.parent / f"{REPORT.stem}-logs"
# Short holds and timers, so holds end, extensions run out and late windows close in seconds.
TIMINGS = {
    "BOOKING_HOLD_EXTENSION_SECONDS": "1",
    "BOOKING_MAX_HOLD_EXTENSIONS": "2",
    "BOOKING_LATE_PAYMENT_WINDOW_SECONDS": "8",
    "BOOKING_PAYMENT_GRACE_SECONDS": "3",
}
STRIPE_FAULTS = Faults(
    error_before=0.04,
    throttle_before=0.03,
    hang_before=0.01,
    reset_before=0.02,
    error_after=0.03,
    hang_after=0.01,
    reset_after=0.02,
    hang_seconds=12,  # past the 10 s of the setup calls' start-to-close timeout
)
SENDGRID_FAULTS = Faults(
    error_before=0.05,
    throttle_before=0.05,
    hang_before=0.01,
    reset_before=0.02,
    error_after=0.04,
    hang_after=0.01,
    reset_after=0.03,
    hang_seconds=12,  # past the mailer's 10 s timeout
)


@dataclass(frozen=True)
class ChaosConfig:
    customers: int
    seconds: float
    seed: int
    quiesce_seconds: float

    @classmethod
    def from_environment(cls) -> "ChaosConfig":
        seed = os.environ.get("CHAOS_SEED")
        return cls(
            customers=int(os.environ.get("CHAOS_CUSTOMERS", "40")),
            seconds=float(os.environ.get("CHAOS_SECONDS", "45")),
            seed=int(seed) if seed else random.SystemRandom().randrange(1_000_000),
            quiesce_seconds=float(os.environ.get("CHAOS_QUIESCE_SECONDS", "75")),
        )


@pytest.fixture
def chaos_config() -> ChaosConfig:
    config = ChaosConfig.from_environment()
    print(f"\nchaos: seed {config.seed} (CHAOS_SEED={config.seed} reproduces the draws)")
    return config


@pytest.fixture
def chaos_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(SENDGRID_KEY) as server:
        yield server


@pytest.fixture
def chaos_receiver() -> Iterator[WebhookReceiver]:
    """The organiser's shop, receiving webhooks out from the engine."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def chaos_stack(chaos_config: ChaosConfig, chaos_sendgrid: FakeSendGrid) -> Iterator[Stack]:
    options = StackOptions(
        task_queue="chaos-bookings",
        folder_prefix="booking-chaos-",
        persistent_temporal=True,
        stripe_faults=STRIPE_FAULTS,
        sendgrid_url=chaos_sendgrid.url,
        sendgrid_api_key=SENDGRID_KEY,
        sendgrid_faults=SENDGRID_FAULTS,
        seed=chaos_config.seed,
        settings=TIMINGS,
        keep_logs=LOGS,
    )
    with running(options) as stack:
        yield stack
