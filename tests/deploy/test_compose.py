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
from tests.deploy.nginx import (
    ADDRESS_FILES,
    COMPOSE_ADDRESSES,
    NGINX_DIR,
    SHARED_FILES,
    compose_addresses,
    directives,
    lay_out,
    loopback_addresses,
)
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


def test_nginx_runs_the_shared_config_with_compose_addresses(compose):
    nginx = compose["services"]["nginx"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in nginx["volumes"])
    # The shared files, the ones the integration test runs, plus compose's two address files.
    assert mounts == {
        **{f"./deploy/nginx/{name}": f"/etc/nginx/{name}" for name in SHARED_FILES},
        **{f"./deploy/nginx/compose/{name}": f"/etc/nginx/{name}" for name in ADDRESS_FILES},
    }
    for source in mounts:
        assert (ROOT / source).is_file(), source
    assert "include listen.conf;" in directives(NGINX_DIR / "nginx.conf")
    assert "include instances.conf;" in directives(NGINX_DIR / "upstream.conf")
    assert re.search(r"^\s*zone moodline_app \d+k;", (NGINX_DIR / "upstream.conf").read_text(), re.M)  # for `resolve`
    # Compose's addresses: port 8080, published; every replica of `app` through Docker's embedded DNS.
    assert directives(COMPOSE_ADDRESSES / "listen.conf") == ["listen 8080;"]
    assert nginx["ports"] == ["${MOODLINE_HTTP_PORT:-8080}:8080"]
    instances = directives(COMPOSE_ADDRESSES / "instances.conf")
    assert any(re.fullmatch(r"server app:8000 resolve .*;", line) for line in instances), instances
    assert any(line.startswith("resolver 127.0.0.11 ") for line in instances), instances
    major, minor = (int(n) for n in nginx["image"].split(":")[1].split("-")[0].split(".")[:2])
    assert (major, minor) >= (1, 28), "`server ... resolve` and `resolver` in an upstream need nginx 1.27.3 or later"


def test_the_test_addresses_are_compose_addresses_on_loopback():
    """The integration test's address files differ from compose's in the addresses and nothing else."""
    made = loopback_addresses(18080, [18001, 18002])
    assert made["listen.conf"] == "listen 127.0.0.1:18080;\n"
    (compose_server,) = (
        line for line in directives(COMPOSE_ADDRESSES / "instances.conf") if line.startswith("server ")
    )
    parameters = compose_server.removeprefix("server app:8000 resolve ").removesuffix(";")
    assert "max_fails=" in parameters and "fail_timeout=" in parameters
    assert made["instances.conf"] == f"server 127.0.0.1:18001 {parameters};\nserver 127.0.0.1:18002 {parameters};\n"


def test_prometheus_scrapes_every_app_replica(compose):
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"] == [{"names": ["app"], "type": "A", "port": 8000, "refresh_interval": "15s"}]


def test_compose_nginx_config_is_accepted_by_nginx(tmp_path):
    """`nginx -t` on the files compose mounts, laid out as it mounts them (needs nginx >= 1.27.3).

    Debian's nginx (1.22) runs the shared files in tests/integration/test_nginx.py; only compose's two
    address files need the newer one.
    """
    nginx = require_binary("nginx")
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    if found is None or tuple(int(n) for n in found.groups()) < (1, 27, 3):
        # A plain skip even under CI: nginx is there, only too old (Debian's nginx-light predates 1.27.3).
        pytest.skip(f"local nginx is older than 1.27.3 ({version.strip()}): it cannot parse `server ... resolve`")
    config = lay_out(tmp_path, compose_addresses())
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
