"""deploy/k8s: every rendered object validated against the Kubernetes schemas (kubernetes-validate,
offline), the kustomize build compared with the test's own rendering, and the settings that matter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moodline.core.settings import Settings
from tests.deploy.dockerfile import ROOT, Dockerfile
from tests.deploy.kustomize import key, kustomize_build, kustomize_command, render
from tests.servers import require_module

K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
KUSTOMIZATIONS = [BASE, PRODUCTION]


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    keyed = {key(obj): obj for obj in objects}
    assert len(keyed) == len(objects), "two objects share a kind and name"
    return keyed


def api_container(objects: dict) -> dict:
    (container,) = objects["Deployment", "moodline"]["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=lambda path: path.name)
def rendered(request: pytest.FixtureRequest) -> dict[tuple[str, str], dict]:
    return by_key(render(request.param))


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda path: path.name)
def test_every_object_is_valid_kubernetes(directory: Path):
    kubernetes_validate = require_module("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    objects = render(directory)
    assert objects
    for obj in objects:
        # strict: unknown fields (a typo such as `readinesProbe`) are errors, not ignored.
        kubernetes_validate.validate(obj, version, strict=True)


def test_validation_does_catch_a_misspelt_field():
    kubernetes_validate = require_module("kubernetes_validate")
    deployment = by_key(render(BASE))["Deployment", "moodline"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda path: path.name)
def test_kustomize_build_matches_the_rendering_checked_here(directory: Path):
    command = kustomize_command()
    if command is None:
        # A plain skip even under CI: `make test` installs neither (no Debian package), and the rendering
        # the other tests check is this test's own, so nothing goes unchecked but the cross-check.
        pytest.skip("neither kustomize nor kubectl is installed: checked the test's own rendering only")
    assert by_key(kustomize_build(command, directory)) == by_key(render(directory))


def test_probes_resources_and_a_locked_down_container(rendered):
    container = api_container(rendered)
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    pod = rendered["Deployment", "moodline"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False


def test_tmp_is_a_writable_empty_dir(rendered):
    container = api_container(rendered)
    pod = rendered["Deployment", "moodline"]["spec"]["template"]["spec"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    # The image writes only there (Prometheus files of the workers, Matplotlib's cache).
    env = Dockerfile.read().stage("serve").last("ENV").arguments
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/" in env and "MPLCONFIGDIR=/tmp/" in env


def test_pod_matches_the_image(rendered):
    serve = Dockerfile.read().stage("serve")
    container = api_container(rendered)
    # The image's CMD runs as is (the command the tests run); the pod only supplies settings.
    assert "command" not in container and "args" not in container
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert serve.last("EXPOSE").arguments == "8000"
    user, group = (int(n) for n in serve.last("USER").arguments.split(":"))
    pod_security = rendered["Deployment", "moodline"]["spec"]["template"]["spec"]["securityContext"]
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (user, group)
    assert re.fullmatch(r"(.+/)?moodline:\d+\.\d+\.\d+", container["image"]), container["image"]


def test_service_and_autoscaler_point_at_the_deployment(rendered):
    deployment = rendered["Deployment", "moodline"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = rendered["Service", "moodline"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    # Redis pods must not receive API traffic.
    redis_labels = rendered["Deployment", "moodline-redis"]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= redis_labels.items()
    hpa = rendered["HorizontalPodAutoscaler", "moodline"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "moodline"}
    assert 1 <= hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_config_map_holds_valid_moodline_settings(rendered, monkeypatch):
    data = rendered["ConfigMap", "moodline-config"]["data"]
    for name in data:  # Gunicorn's settings too: one Settings class holds every MOODLINE_ variable
        assert name.startswith("MOODLINE_"), name
        assert name[len("MOODLINE_") :].lower() in Settings.model_fields, name
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url == "redis://moodline-redis:6379/0"
    assert ("Service", "moodline-redis") in rendered
    redis = rendered["Deployment", "moodline-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert redis["securityContext"]["readOnlyRootFilesystem"] is True
    # Scaling is by pods: the CPUs requested match the workers, one inference thread each.
    cpu = int(api_container(rendered)["resources"]["requests"]["cpu"])
    assert settings.workers == cpu and settings.inference_threads() == 1


def test_production_overlay():
    base, production = by_key(render(BASE)), by_key(render(PRODUCTION))
    for obj in production.values():
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "moodline", key(obj)
    assert (
        production["Namespace", "moodline"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )
    deployment = production["Deployment", "moodline"]
    assert deployment["spec"]["replicas"] > base["Deployment", "moodline"]["spec"]["replicas"]
    hpa, base_hpa = (
        production["HorizontalPodAutoscaler", "moodline"]["spec"],
        base["HorizontalPodAutoscaler", "moodline"]["spec"],
    )
    assert hpa["minReplicas"] > base_hpa["minReplicas"] and hpa["maxReplicas"] > base_hpa["maxReplicas"]
    container = api_container(production)
    assert container["image"].startswith("ghcr.io/")
    keys = [env for env in container.get("env", []) if env["name"] == "MOODLINE_API_KEYS"]
    assert keys == [
        {"name": "MOODLINE_API_KEYS", "valueFrom": {"secretKeyRef": {"name": "moodline-api-keys", "key": "keys"}}}
    ]
    # The key is only referenced: no Secret with a value is committed.
    assert not [k for k in production if k[0] == "Secret"]
    # The patch kept the base's probes and security settings.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    pdb = production["PodDisruptionBudget", "moodline"]["spec"]
    assert pdb["minAvailable"] < hpa["minReplicas"]
    assert pdb["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
