"""The one way every process (worker, API, operator commands, bench, tests) reaches Temporal.

Options every client must share (namespace, the payload codec that encrypts personal data)
are set here, so no process can talk to Temporal without them.
"""

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from core.codec import encrypting_converter
from core.settings import Settings


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for `settings.temporal_address` and namespace; `runtime` adds telemetry."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
    )


def data_converter(settings: Settings) -> DataConverter:
    """Temporal's JSON converter with every payload encrypted (core.codec)."""
    return encrypting_converter(settings.payload_keys, settings.payload_key_id)
