"""Releases are reproducible: one lock that every install reads, one version, a licence and a
changelog, one Temporal server version, and an image that hadolint passes and Kubernetes'
runAsNonRoot accepts."""

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from core.settings import PROJECT_ROOT
from devstack.temporal_prod import SERVER_VERSION

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
LOCKS = {
    # the image's: runtime dependencies, the valkey and tracing extras
    "requirements.lock": ["valkey", "tracing"],
    "requirements-dev.lock": [
        "valkey",
        "tracing",
        "dev",
    ],  # make setup's, hence CI's (tracing tests)
}
HADOLINT = PROJECT_ROOT / ".venv" / "bin" / "hadolint"


def pins(lock: str) -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, hashes) of every package a lock pins."""
    text = (PROJECT_ROOT / lock).read_text()
    found: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            found[canonicalize_name(match.group(1))] = (Version(match.group(2)), hashes)
    return found


def declared(extras: list[str]) -> list[Requirement]:
    project = PYPROJECT["project"]
    names = project["dependencies"] + [
        dep for extra in extras for dep in project["optional-dependencies"][extra]
    ]
    return [Requirement(name) for name in names]


def test_each_lock_pins_every_declared_dependency_within_its_bounds_with_hashes() -> None:
    for lock, extras in LOCKS.items():
        pinned = pins(lock)
        assert len(pinned) > 50, lock
        for requirement in declared(extras):
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{lock} lacks {name}: run `make lock`"
            version, _ = pinned[name]
            assert requirement.specifier.contains(version, prereleases=True), (lock, name)
        assert "valkey" in pinned, lock  # the client limits[async-valkey] brings
        assert all(hashes for _, hashes in pinned.values()), lock


def test_the_image_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: dev[name][0] for name in runtime
    }


def test_every_install_reads_the_lock() -> None:
    bootstrap = (PROJECT_ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "pip install -q --require-hashes -r requirements-dev.lock" in bootstrap
    assert "--no-deps --no-build-isolation -e ." in bootstrap
    assert '-e ".[dev]"' not in bootstrap
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    installs = re.findall(r"^(?!#).*pip install ([^\n\\]*)", dockerfile, re.MULTILINE)
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci  # make test runs make setup, which is the bootstrap above


def test_the_version_is_written_once() -> None:
    version = PYPROJECT["project"]["version"]
    assert metadata.version("booking-engine") == version
    hits = [
        path
        for path in (*PROJECT_ROOT.glob("*/*.py"), PROJECT_ROOT / "worker.py")
        if re.search(rf"""["']{re.escape(version)}["']""", path.read_text())
    ]
    assert hits == [], f"the version is read from the package metadata, not written: {hits}"


def test_the_licence_is_apache_2_and_the_changelog_describes_this_version() -> None:
    licence = (PROJECT_ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert len(licence.splitlines()) > 190  # the whole text, appendix included
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", changelog, re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert headings[1].startswith(f"{PYPROJECT['project']['version']} ")
    assert "### Upgrading" in changelog


def test_every_temporal_server_pin_is_the_one_the_tests_build() -> None:
    """devstack/temporal_prod.py builds the server the tests and the bench run against; compose,
    its example, the chart's CLI image and the docs that quote a version say the same."""
    texts = {
        path: (PROJECT_ROOT / path).read_text()
        for path in (
            "docker-compose.yml",
            "docker/compose.env.example",
            "deploy/helm/booking-engine/values.yaml",
            "bench/README.md",
            "docs/performance.md",
        )
    }
    patterns = [
        r"TEMPORAL_VERSION:-([\d.]+)",
        r"TEMPORAL_VERSION=([\d.]+)",
        r"temporalio/(?:server|admin-tools|auto-setup):([\d.]+)",
        r"server@v([\d.]+)",
        r"Temporal ([\d.]+) built from source",
    ]
    found = {
        (path, version)
        for path, text in texts.items()
        for p in patterns
        for version in re.findall(p, text)
    }
    assert {path for path, _ in found} == set(texts)
    assert {version for _, version in found} == {SERVER_VERSION}, found


def test_hadolint_passes_the_dockerfile_and_refuses_a_named_user(tmp_path: Path) -> None:
    lint = subprocess.run(
        [str(HADOLINT), "Dockerfile"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    named = tmp_path / "Dockerfile"
    named.write_text("FROM python:3.11-slim\nUSER app\n")
    refused = subprocess.run([str(HADOLINT), str(named)], capture_output=True, text=True)
    assert "DL3066" in refused.stdout  # a user runAsNonRoot cannot check


def test_every_stage_runs_as_the_numeric_non_root_user() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for stage in re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]:
        users = re.findall(r"^USER (\S+)$", stage, re.MULTILINE)
        name = stage.split()[2]
        if name == "runtime":  # FROM app AS runtime: inherits app's user
            continue
        assert users and users[-1] == "10001:10001", (name, users)
