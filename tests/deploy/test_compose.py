"""compose.yaml against the Compose Specification schema, and the wiring that makes --scale work."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from importlib import resources

import pytest
import yaml

from tests.deploy.dockerfile import ROOT, Dockerfile
from tests.servers import require_binary, unavailable

COMPOSE = ROOT / "compose.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    # The Compose Specification JSON schema (Apache-2.0), shipped offline by check-jsonschema.
    try:
        vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    except ModuleNotFoundError:
        unavailable("check-jsonschema is not installed (the dev extra provides the Compose schema)")
    return json.loads(vendored.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def errors(schema: dict, document: dict) -> list[str]:
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(schema, compose):
    assert schema["title"] == "Compose Specification"
    assert errors(schema, compose) == []


def test_the_schema_check_does_catch_mistakes(schema, compose):
    broken = copy.deepcopy(compose)
    broken["services"]["app"]["depends_on"]["redis"]["condition"] = "service_up"
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    assert len(errors(schema, broken)) >= 2


def test_app_is_scalable_and_built_from_the_serving_image(compose):
    app = compose["services"]["app"]
    # A fixed name or a published host port would make `--scale app=N` fail on the second replica.
    assert "container_name" not in app and "ports" not in app
    assert app["build"] == {"context": ".", "dockerfile": "deploy/docker/Dockerfile", "target": "serve"}
    exposed = Dockerfile.read().stage("serve").last("EXPOSE").arguments.split("/")[0]
    assert app["expose"] == [exposed]
    # No command override: the replicas run the image's CMD, the one the tests run.
    assert "command" not in app and "entrypoint" not in app
    # Each replica names itself from its hostname unless told otherwise.
    assert "MOODLINE_INSTANCE_ID" not in app["environment"]
    assert app["read_only"] is True and "/tmp" in app["tmpfs"]


def test_app_healthcheck_is_the_image_one(compose):
    image_check = Dockerfile.read().stage("serve").last("HEALTHCHECK").exec_form()
    assert compose["services"]["app"]["healthcheck"]["test"] == ["CMD", *image_check]


def test_every_service_is_health_checked_and_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    assert set(services["app"]["depends_on"]) == {"redis", "mlflow"}
    assert set(services["nginx"]["depends_on"]) == {"app"}


def test_app_points_at_redis_and_mlflow_services(compose):
    environment = compose["services"]["app"]["environment"]
    assert environment["MOODLINE_REDIS_URL"] == "redis://redis:6379/0"
    assert environment["MOODLINE_MLFLOW_URI"] == "http://mlflow:5000"
    mlflow = compose["services"]["mlflow"]
    assert mlflow["image"].startswith("ghcr.io/mlflow/mlflow:")
    assert "--backend-store-uri=sqlite:////mlflow/mlflow.db" in mlflow["command"]
    assert "mlflow:/mlflow" in mlflow["volumes"] and "mlflow" in compose["volumes"]


def test_nginx_uses_the_repository_config_and_balances_the_app_service(compose):
    nginx = compose["services"]["nginx"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in nginx["volumes"])
    assert mounts == {
        "./deploy/nginx/nginx.conf": "/etc/nginx/nginx.conf",
        "./deploy/nginx/upstream.conf": "/etc/nginx/upstream.conf",
    }
    for source in mounts:
        assert (ROOT / source).is_file(), source
    nginx_conf = (ROOT / "deploy/nginx/nginx.conf").read_text()
    assert "include upstream.conf;" in nginx_conf and "listen 8080;" in nginx_conf
    assert nginx["ports"] == ["${MOODLINE_HTTP_PORT:-8080}:8080"]
    upstream = (ROOT / "deploy/nginx/upstream.conf").read_text()
    assert re.search(r"^\s*server app:8000 resolve\b", upstream, re.M), upstream
    assert re.search(r"^\s*zone moodline_app \d+k;", upstream, re.M)  # `resolve` needs a shared zone
    assert re.search(r"^resolver 127\.0\.0\.11\b", upstream, re.M)  # Docker's embedded DNS
    major, minor = (int(n) for n in nginx["image"].split(":")[1].split("-")[0].split(".")[:2])
    assert (major, minor) >= (1, 28), "`server ... resolve` needs nginx 1.27.3 or later"


def test_prometheus_scrapes_every_app_replica(compose):
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"] == [{"names": ["app"], "type": "A", "port": 8000, "refresh_interval": "15s"}]


def test_compose_upstream_config_is_accepted_by_nginx(tmp_path):
    """`nginx -t` on the exact files compose mounts (needs nginx >= 1.27.3 for `resolve`)."""
    nginx = require_binary("nginx")
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    if found is None or tuple(int(n) for n in found.groups()) < (1, 27, 3):
        # A plain skip even under CI: nginx is there, only too old (Debian's nginx-light predates 1.27.3).
        pytest.skip(f"local nginx is older than 1.27.3 ({version.strip()}): it cannot parse `server ... resolve`")
    for name in ("nginx.conf", "upstream.conf"):
        (tmp_path / name).write_text((ROOT / "deploy/nginx" / name).read_text())
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
