"""nginx (Debian package) running the shipped configuration in front of two real `moodline serve`
instances; one is killed mid-run.

nginx reads deploy/nginx/nginx.conf and upstream.conf themselves (linked, not copied); only the
addresses are the test's, made from compose's address files (tests/deploy/nginx.py). The instances
run the serving image's CMD (read from deploy/docker/Dockerfile by start_moodline).
"""

from __future__ import annotations

import collections
import os
import signal

import httpx
import pytest

from tests.deploy.nginx import NGINX_DIR, SHARED_FILES, loopback_addresses
from tests.servers import NginxServer, free_port, start_moodline, wait_for_port

pytestmark = pytest.mark.integration


def test_shipped_config_balances_two_instances_and_survives_one_dying(tiny_onnx_model, tmp_path):
    ports = [free_port(), free_port()]
    instances = {name: start_moodline(tiny_onnx_model, port, name) for name, port in zip("ab", ports, strict=True)}
    try:
        for port in ports:
            wait_for_port(port, timeout=60)
        with NginxServer(tmp_path, ports) as nginx, httpx.Client(base_url=nginx.url, timeout=30) as client:
            # What nginx read: the shipped shared files, word for word, and the test's two address files.
            loaded = nginx.loaded_files()
            assert sorted(path.name for path in loaded) == sorted([*SHARED_FILES, "listen.conf", "instances.conf"])
            for path, text in loaded.items():
                if path.name in SHARED_FILES:
                    assert path.resolve() == NGINX_DIR / path.name
                    assert text == (NGINX_DIR / path.name).read_text(), path
                else:
                    assert text == loopback_addresses(nginx.port, ports)[path.name]

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
                assert response.status_code == 200, (response.text, nginx.error_log())
                after[response.headers["x-moodline-instance"]] += 1
            assert after == {"b": 40}

            too_big = client.post("/predict", content=b"x" * (3 * 1024 * 1024))
            assert too_big.status_code == 413
    finally:
        for process in instances.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
