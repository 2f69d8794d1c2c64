"""The one way every process (worker, API, operator commands, bench, tests) reaches Temporal.

Options every client must share (namespace, the payload codec that encrypts personal data)
are set here, so no process can talk to Temporal without them. Where and how to connect comes
from the SDK's client configuration (`temporalio.envconfig`: a TOML profile and the TEMPORAL_*
environment, as the `temporal` CLI reads them), overridden by each BOOKING_TEMPORAL_* setting
that is set: a Temporal Cloud namespace, an mTLS server or an API-key server alike.
"""

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from temporalio.client import Client, Interceptor, WorkflowExecutionDescription, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, ClientConnectConfig
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from core.codec import encrypting_converter
from core.settings import Settings


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client of the configured server and namespace; `runtime` adds telemetry,
    `interceptors` tracing (core/tracing.py)."""
    config = connect_config(settings)
    try:
        return await Client.connect(
            **config,
            data_converter=data_converter(settings),
            runtime=runtime,
            interceptors=interceptors,
        )
    except RuntimeError as err:  # the SDK's only word for "could not connect"
        raise TemporalUnreachable(f"{describe(config)}: {err}") from err


class TemporalUnreachable(RuntimeError):
    """The configured Temporal server could not be reached; the message says how we tried."""


def describe(config: ClientConnectConfig) -> str:
    """Where and how a client connects, for errors and logs (no secret in it)."""
    tls = config.get("tls", False)
    if isinstance(tls, TLSConfig):
        certificate = "a client certificate" if tls.client_cert else "no client certificate"
        how = f"TLS with {certificate}"
    else:
        how = "TLS" if tls else "plaintext"
    if "api_key" in config:
        how += " and an API key"
    return f"Temporal at {config.get('target_host')}, namespace {config.get('namespace')} ({how})"


def connect_config(settings: Settings) -> ClientConnectConfig:
    """`Client.connect`'s address, namespace, TLS, API key and gRPC metadata: the profile
    (TEMPORAL_CONFIG_FILE or the default file, TEMPORAL_PROFILE or "default", TEMPORAL_*
    variables), then the BOOKING_TEMPORAL_* settings that are set."""
    profile = ClientConfigProfile.load(
        settings.temporal_profile, config_source=settings.temporal_config_file
    )
    given = settings.model_fields_set
    address = settings.temporal_address
    namespace = settings.temporal_namespace
    profile = replace(
        profile,
        address=address if "temporal_address" in given else profile.address or address,
        namespace=namespace if "temporal_namespace" in given else profile.namespace or namespace,
        api_key=settings.temporal_api_key or profile.api_key,
        tls=_tls(settings, profile.tls),
    )
    return profile.to_client_connect_config()


def _tls(settings: Settings, tls: ClientConfigTLS | None) -> ClientConfigTLS | None:
    """The profile's TLS with our settings laid over it; None leaves TLS to the API key."""
    files = {
        "server_root_ca_cert": settings.temporal_tls_server_ca_cert,
        "client_cert": settings.temporal_tls_client_cert,
        "client_private_key": settings.temporal_tls_client_key,
    }
    overrides: dict[str, Path | str | bool] = {k: v for k, v in files.items() if v is not None}
    if settings.temporal_tls_server_name is not None:
        overrides["server_name"] = settings.temporal_tls_server_name
    if settings.temporal_tls is not None:
        overrides["disabled"] = not settings.temporal_tls
    if not overrides:
        return tls
    return replace(tls or ClientConfigTLS(), **overrides)  # type: ignore[arg-type]


def data_converter(settings: Settings) -> DataConverter:
    """Temporal's JSON converter with every payload encrypted (core.codec)."""
    return encrypting_converter(settings.payload_keys, settings.payload_key_id)


async def describe_or_none(
    handle: WorkflowHandle[Any, Any],
) -> WorkflowExecutionDescription | None:
    """The workflow's description; None when Temporal has no such workflow (never started, or
    past the namespace's retention). Any other RPC error is raised."""
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
