"""The Helm chart (deploy/helm/booking-engine), rendered by the Helm that `make setup` builds and
checked object by object: Kubernetes' own schemas (kubernetes-validate, strict: an unknown field
fails), then what the deployment needs (hooks, public paths only, non-root numeric user, secrets
as files, probes, disruption budgets, KEDA's Temporal scaler)."""

import re
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from core.settings import PROJECT_ROOT, SECRETS_DIR_VARIABLE
from devstack.tools import TOOLS_BIN
from messages.search_attributes import cli_types

CHART = PROJECT_ROOT / "deploy" / "helm" / "booking-engine"
HELM = TOOLS_BIN / "helm"
KUBERNETES_VERSION = "1.33"  # the schemas the objects must satisfy
HOOKS = "pre-install,pre-upgrade"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: run `make setup` (scripts/bootstrap.sh builds it)"
    return subprocess.run(
        [str(HELM), "template", "rel", str(CHART), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def render(*sets: str) -> list[dict[str, Any]]:
    done = helm(*(arg for value in sets for arg in ("--set", value)))
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == f"rel-{name}"]
    assert len(found) == 1, (kind, name, [(o["kind"], o["metadata"]["name"]) for o in objects])
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def test_the_chart_renders_the_api_the_worker_and_their_jobs(objects: list[dict]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == [
        ("ConfigMap", "rel-booking-engine-search-attributes"),
        ("ConfigMap", "rel-booking-engine-settings"),
        ("ConfigMap", "rel-booking-engine-settings-hook"),
        ("Deployment", "rel-booking-engine-api"),
        ("Deployment", "rel-booking-engine-worker"),
        ("Ingress", "rel-booking-engine"),
        ("Job", "rel-booking-engine-migrate"),
        ("Job", "rel-booking-engine-search-attributes"),
        ("PodDisruptionBudget", "rel-booking-engine-api"),
        ("PodDisruptionBudget", "rel-booking-engine-worker"),
        ("Secret", "rel-booking-engine-secrets"),
        ("Secret", "rel-booking-engine-secrets-hook"),
        ("Service", "rel-booking-engine-api"),
        ("ServiceAccount", "rel-booking-engine"),
    ]


def test_every_object_follows_the_kubernetes_schemas(objects: list[dict]) -> None:
    for manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    broken = one(objects, "Deployment", "booking-engine-api")
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProb"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_migrations_and_search_attributes_run_before_install_and_upgrade(
    objects: list[dict],
) -> None:
    migrate = one(objects, "Job", "booking-engine-migrate")
    attributes = one(objects, "Job", "booking-engine-search-attributes")
    for job in (migrate, attributes):
        assert job["metadata"]["annotations"]["helm.sh/hook"] == HOOKS
    assert migrate["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "alembic",
        "upgrade",
        "head",
    ]
    # What the hook Jobs read exists before them (a first install has no release objects yet).
    for kind, name in [
        ("ConfigMap", "booking-engine-settings-hook"),
        ("Secret", "booking-engine-secrets-hook"),
        ("ConfigMap", "booking-engine-search-attributes"),
    ]:
        annotations = one(objects, kind, name)["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == HOOKS
        assert int(annotations["helm.sh/hook-weight"]) < 0
    script = one(objects, "ConfigMap", "booking-engine-search-attributes")["data"]
    assert (
        script["register-search-attributes.sh"]
        == (CHART / "files/register-search-attributes.sh").read_text()
    )


def test_the_search_attribute_script_registers_the_engines_attributes() -> None:
    script = (CHART / "files" / "register-search-attributes.sh").read_text()
    listed = dict(re.findall(r'^\s+"(\w+)=(\w+)"$', script, re.MULTILINE))
    assert listed == cli_types()


def test_only_the_public_api_is_on_the_ingress(objects: list[dict]) -> None:
    ingress = one(objects, "Ingress", "booking-engine")
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/v1", "/openapi.json"]
    for path in ("/codec", "/metrics", "/"):
        refused = helm("--set", f"ingress.paths[0].path={path}")
        assert refused.returncode != 0
        assert "stay off the ingress" in refused.stderr


def test_every_pod_runs_as_the_images_numeric_non_root_user(objects: list[dict]) -> None:
    dockerfile_users = re.findall(r"^USER (\S+)$", (PROJECT_ROOT / "Dockerfile").read_text(), re.M)
    uid, gid = (int(part) for part in dockerfile_users[-1].split(":"))
    specs = pod_specs(objects)
    assert len(specs) == 4
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (
            uid,
            gid,
        )
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_secrets_are_files_the_app_reads(objects: list[dict]) -> None:
    for name in ("booking-engine-api", "booking-engine-worker"):
        spec = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["secrets"]["mountPath"] == env[SECRETS_DIR_VARIABLE]
        assert mounts["secrets"]["readOnly"] is True
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "rel-booking-engine-secrets"
        assert not any("BOOKING_STRIPE_API_KEY" in str(e) for e in container["env"])
    external = render("secrets.existingSecret=booking-secrets")
    assert not [o for o in external if o["kind"] == "Secret"]
    app_volumes = [
        {v["name"]: v for v in spec["volumes"]}["secrets"]
        for spec in pod_specs(external)
        if "secrets" in {v["name"] for v in spec["volumes"]}
    ]
    assert len(app_volumes) == 3  # api, worker, migrate
    assert {v["secret"]["secretName"] for v in app_volumes} == {"booking-secrets"}


def test_the_worker_is_probed_on_its_health_port_and_stops_gracefully() -> None:
    worker = one(render("worker.healthPort=9100"), "Deployment", "booking-engine-worker")
    spec = worker["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 60
    container = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == 9100
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BOOKING_WORKER_HEALTH_ADDRESS"] == "0.0.0.0:9100"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}


def test_disruption_budgets_keep_an_api_and_a_worker(objects: list[dict]) -> None:
    for name in ("api", "worker"):
        budget = one(objects, "PodDisruptionBudget", f"booking-engine-{name}")
        assert budget["spec"]["minAvailable"] == 1
        assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == name


def test_keda_scales_the_workers_on_their_task_queue() -> None:
    assert not [o for o in render() if o["kind"] == "ScaledObject"]
    objects = render("worker.keda.enabled=true", "settings.BOOKING_TASK_QUEUE=tickets")
    scaled = one(objects, "ScaledObject", "booking-engine-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "rel-booking-engine-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "temporal"
    assert trigger["metadata"]["taskQueue"] == "tickets"
    assert trigger["metadata"]["endpoint"] == "temporal-frontend.temporal.svc.cluster.local:7233"
    assert "replicas" not in one(objects, "Deployment", "booking-engine-worker")["spec"]


def test_the_chart_version_is_the_apps() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = re.search(r'^version = "(.+)"$', (PROJECT_ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert chart["version"] == chart["appVersion"] == version.group(1)
