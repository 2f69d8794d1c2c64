"""The compose stack, read from its files (no Docker here): the compose specification accepts it,
every setting reaches the app's containers, Temporal is the server image after a schema one-shot,
and the shared rate-limit storage it names works with what the image installs."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from core.settings import PROJECT_ROOT, SECRETS_DIR_VARIABLE, Settings
from devstack.temporal_prod import SCHEMAS

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
APP_ENV_EXAMPLE = PROJECT_ROOT / "docker" / "env.example"
COMPOSE_ENV_EXAMPLE = PROJECT_ROOT / "docker" / "compose.env.example"
SCHEMA = Path(__file__).parent / "fixtures" / "compose-spec.json"
APP_SERVICES = ("migrate", "api", "worker")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def documented(example: Path) -> set[str]:
    """The variables an example file names (`NAME=` lines, commented out or not)."""
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example.read_text(), re.MULTILINE))


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose())


def test_the_check_refuses_what_the_specification_refuses() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["api"]["restart_policy"] = "always"  # no such key on a service
    with pytest.raises(jsonschema.ValidationError, match="restart_policy"):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_every_setting_is_documented_in_the_env_example() -> None:
    variables = {f"BOOKING_{name.upper()}" for name in Settings.model_fields}
    missing = variables - documented(APP_ENV_EXAMPLE)
    assert not missing, f"document these in docker/env.example: {sorted(missing)}"
    unknown = {v for v in documented(APP_ENV_EXAMPLE) if v.startswith("BOOKING_")} - variables
    assert unknown == {SECRETS_DIR_VARIABLE}, unknown


def test_every_setting_reaches_the_app_containers() -> None:
    """booking.env reaches api, worker and migrate; the few compose sets itself are read from
    variables of the same name (so `.env` can change them) and documented there."""
    services = compose()["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == [{"path": "booking.env", "required": False}], name
        for variable, value in service["environment"].items():
            assert variable.startswith("BOOKING_"), (name, variable)
            assert value.startswith(f"${{{variable}:-") or value.startswith(f"${{{variable}-"), (
                name,
                variable,
                value,
            )
            assert variable in documented(COMPOSE_ENV_EXAMPLE), variable
    assert "booking.env" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assert "booking.env" in (PROJECT_ROOT / ".dockerignore").read_text().split()


def test_every_compose_variable_is_documented() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))  # $$ escapes
    assert used <= documented(COMPOSE_ENV_EXAMPLE), used - documented(COMPOSE_ENV_EXAMPLE)


def test_temporal_is_the_server_image_after_its_schema_one_shot() -> None:
    services = compose()["services"]
    images = {name: service.get("image", "") for name, service in services.items()}
    assert not any("auto-setup" in image for image in images.values())
    assert images["temporal"] == "temporalio/server:${TEMPORAL_VERSION:-1.29.1}"
    assert images["temporal-schema"].startswith("temporalio/admin-tools:${TEMPORAL_VERSION:-")
    schema_script = (PROJECT_ROOT / "docker" / "temporal" / "setup-schema.sh").read_text()
    applied = dict(re.findall(r"(\w+):(postgresql/v12/\w+)", schema_script))
    assert applied == SCHEMAS  # what the production-shaped server of the tests gets
    assert 'update-schema --schema-name "$schema"' in schema_script
    assert services["temporal"]["depends_on"]["temporal-schema"] == {
        "condition": "service_completed_successfully"
    }


def test_the_worker_stops_gracefully_and_is_probed() -> None:
    worker = compose()["services"]["worker"]
    assert worker["init"] is True  # tini forwards SIGTERM to the worker
    assert worker["stop_grace_period"] == "60s"
    assert "/readyz" in " ".join(worker["healthcheck"]["test"])


async def test_the_shared_rate_limit_storage_compose_names_is_installed() -> None:
    """The client of compose's default storage URL is importable (the `valkey` extra), which a
    bare `limits` lacked: the API failed at start with a Redis URL."""
    url = compose()["x-app-environment"]["BOOKING_RATE_LIMIT_STORAGE_URL"]
    default = re.fullmatch(r"\$\{BOOKING_RATE_LIMIT_STORAGE_URL:-(.+)\}", url)
    assert default is not None
    storage = storage_from_string(default.group(1))
    assert isinstance(storage, Storage)
    assert type(storage).__name__ == "RedisStorage"
    assert "valkey" in compose()["services"]
