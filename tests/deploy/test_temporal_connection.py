"""Every process reaches Temporal through the SDK's client configuration (core/temporal.py):
profiles, the TEMPORAL_* environment, our BOOKING_TEMPORAL_* settings over them, TLS with
client certificates (proved against a proxy that requires them) and API keys."""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import TemporalUnreachable, connect, connect_config
from devstack.tls_proxy import TlsProxy, server_context
from tests.helpers.certificates import Authority, make_authority

PROFILE_FILE = """
[profile.default]
address = "file-default:7233"

[profile.cloud]
address = "booking.a1b2c.tmprl.cloud:7233"
namespace = "booking.a1b2c"
api_key = "profile-api-key"
"""


@pytest.fixture(autouse=True)
def no_temporal_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's own TEMPORAL_* variables and config file stay out of these tests."""
    for name in [n for n in os.environ if n.startswith("TEMPORAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILE_FILE)
    return path


def test_with_nothing_configured_the_local_dev_server_is_reached_in_plaintext() -> None:
    config = connect_config(Settings())
    assert config["target_host"] == "127.0.0.1:7233"
    assert config["namespace"] == "default"
    assert "tls" not in config and "api_key" not in config


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TLS", "API_KEY", "CONFIG_FILE", "TLS_CLIENT_CERT"):
        monkeypatch.setenv(f"BOOKING_TEMPORAL_{name}", "")
    settings = Settings()
    assert settings.temporal_tls is None and settings.temporal_api_key is None
    assert settings.temporal_config_file is None and settings.temporal_tls_client_cert is None
    assert "tls" not in connect_config(settings)


def test_a_profile_names_the_server_and_its_api_key_turns_tls_on(profiles: Path) -> None:
    config = connect_config(Settings(temporal_config_file=profiles, temporal_profile="cloud"))
    assert config["target_host"] == "booking.a1b2c.tmprl.cloud:7233"
    assert config["namespace"] == "booking.a1b2c"
    assert config["api_key"] == "profile-api-key"
    assert config["tls"] is True


def test_booking_settings_that_are_set_override_the_profile_and_the_environment(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profiles))
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "from-env")
    assert connect_config(Settings())["target_host"] == "file-default:7233"
    assert connect_config(Settings())["namespace"] == "from-env"
    config = connect_config(
        Settings(temporal_address="temporal.internal:7233", temporal_api_key="ours")
    )
    assert config["target_host"] == "temporal.internal:7233"
    assert config["namespace"] == "from-env"
    assert config["api_key"] == "ours"


def test_certificate_settings_are_read_into_the_tls_config(tmp_path: Path) -> None:
    authority = make_authority(tmp_path)
    config = connect_config(_mtls_settings("127.0.0.1:7233", authority))
    tls = config["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == authority.ca.read_bytes()
    assert tls.client_cert == authority.client.cert.read_bytes()
    assert tls.client_private_key == authority.client.key.read_bytes()
    assert connect_config(Settings(temporal_tls=False, temporal_api_key="k"))["tls"] is False


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def mtls_address(
    temporal_env: WorkflowEnvironment, authority: Authority
) -> AsyncIterator[str]:
    """The session's dev server behind a proxy that requires a client certificate."""
    context = server_context(authority.server.cert, authority.server.key, authority.ca)
    proxy = TlsProxy(temporal_env.client.service_client.config.target_host, context)
    yield await proxy.start()
    await proxy.close()


async def test_a_client_certificate_reaches_an_mtls_server(
    mtls_address: str, authority: Authority, settings: Settings, temporal: Client
) -> None:
    keys = {"payload_keys": settings.payload_keys, "payload_key_id": settings.payload_key_id}
    client = await connect(_mtls_settings(mtls_address, authority, **keys))
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    assert described.namespace_info.name == "default"
    # A workflow started through the proxy is on the server behind it.
    workflow_id = f"tls-{uuid.uuid4()}"
    handle = await client.start_workflow(
        "NoSuchWorkflow", id=workflow_id, task_queue=f"tls-{uuid.uuid4()}"
    )
    await handle.terminate()
    behind = await temporal.get_workflow_handle(workflow_id).describe()
    assert behind.status == WorkflowExecutionStatus.TERMINATED


async def test_without_a_client_certificate_the_server_refuses(
    mtls_address: str, authority: Authority
) -> None:
    without = Settings(temporal_address=mtls_address, temporal_tls_server_ca_cert=authority.ca)
    with pytest.raises(TemporalUnreachable) as refused:
        await connect(without)
    assert f"Temporal at {mtls_address}" in str(refused.value)
    assert "(TLS with no client certificate)" in str(refused.value)


def _mtls_settings(address: str, authority: Authority, **more: object) -> Settings:
    return Settings(
        temporal_address=address,
        temporal_tls_server_ca_cert=authority.ca,
        temporal_tls_client_cert=authority.client.cert,
        temporal_tls_client_key=authority.client.key,
        **more,  # type: ignore[arg-type]
    )
