"""nginx (Debian package) load-balancing two real `moodline serve` instances; one is killed mid-run.

The instances run the serving image's CMD (read from deploy/docker/Dockerfile by start_moodline).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.servers import free_port, require_binary, start_moodline, wait_for_port

pytestmark = pytest.mark.integration


def start_nginx(workdir: Path, port: int, upstreams: list[int]) -> subprocess.Popen[bytes]:
    config = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "listen 8080;" in config
    (workdir / "nginx.conf").write_text(config.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    (workdir / "upstream.conf").write_text(
        f"upstream moodline_app {{\n    least_conn;\n{servers}\n    keepalive 16;\n}}\n"
    )
    process = subprocess.Popen(
        [
            require_binary("nginx"),
            "-p",
            str(workdir),
            "-c",
            str(workdir / "nginx.conf"),
            "-g",
            f"daemon off; pid {workdir / 'nginx.pid'};",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for_port(port)
    return process


def test_two_instances_share_traffic_and_survive_one_dying(tiny_onnx_model, tmp_path):
    require_binary("nginx")
    ports = [free_port(), free_port()]
    instances = {name: start_moodline(tiny_onnx_model, port, name) for name, port in zip("ab", ports, strict=True)}
    nginx = None
    try:
        for port in ports:
            wait_for_port(port, timeout=60)
        nginx_port = free_port()
        nginx = start_nginx(tmp_path, nginx_port, ports)
        base = f"http://127.0.0.1:{nginx_port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/nginx-health").text == "ok\n"
            seen = collections.Counter()
            for i in range(40):
                response = client.post("/predict", json={"text": f"balanced request {i}"})
                assert response.status_code == 200, response.text
                seen[response.headers["x-moodline-instance"]] += 1
            assert set(seen) == {"a", "b"}, seen

            os.killpg(instances["a"].pid, signal.SIGKILL)
            instances["a"].wait(timeout=10)
            after = collections.Counter()
            for i in range(40):
                response = client.post("/predict", json={"text": f"after the kill {i}"})
                assert response.status_code == 200, response.text
                after[response.headers["x-moodline-instance"]] += 1
            assert after == {"b": 40}

            too_big = client.post("/predict", content=b"x" * (3 * 1024 * 1024))
            assert too_big.status_code == 413
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for process in instances.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
