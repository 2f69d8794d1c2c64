"""The one way every process (worker, API, operator commands, bench, tests) reaches Temporal.

Options every client must share (namespace, and later the payload codec that encrypts
personal data) are set here, so no process can talk to Temporal without them.
"""

from temporalio.client import Client
from temporalio.runtime import Runtime

from core.settings import Settings


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for `settings.temporal_address` and namespace; `runtime` adds telemetry."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        runtime=runtime,
    )
