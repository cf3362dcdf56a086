"""`moodline score --engine ray` against a real local Ray cluster: a head and two worker nodes on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from moodline.cli import main
from tests.scoring.conftest import write_csv
from tests.servers import require_module

pytestmark = pytest.mark.integration

# A guard against a hung cluster, not a speed limit: on a two-core machine busy with other work, Ray's
# actors took over 80 s to start and score 1,500 rows.
RAY_RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def ray_cluster():  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        # every node on loopback: Ray would otherwise advertise the machine's network address
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        yield from _cluster()


def _cluster():  # type: ignore[no-untyped-def]
    cluster_utils = require_module("ray.cluster_utils")
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "node_ip_address": "127.0.0.1"},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes(timeout=60)
        yield cluster
    finally:
        cluster.shutdown()


def test_ray_cluster_output_equals_the_single_machine_output(tmp_path, tiny_onnx_model, ray_cluster):
    source = write_csv(tmp_path / "in.csv", 1_500, bad_every=101)
    local = tmp_path / "local.csv"
    common = ["--text-column", "text", "--id-column", "id", "--model", str(tiny_onnx_model), "--threads", "1"]
    common += ["--chunk-rows", "200"]
    result = CliRunner().invoke(main, ["score", str(source), str(local), *common])
    assert result.exit_code == 0, result.output

    distributed = tmp_path / "ray.csv"
    done = subprocess.run(
        [sys.executable, "-m", "moodline.cli", "score", str(source), str(distributed), *common,
         "--engine", "ray", "--address", ray_cluster.address, "--actors", "2", "--json"],
        env={**os.environ, "MOODLINE_NO_PROGRESS": "1"},
        capture_output=True,
        text=True,
        timeout=RAY_RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"engine": "ray"' in done.stdout and '"actors": 2' in done.stdout
    # same chunks reach the same engine calls, so the outputs match byte for byte
    assert distributed.read_bytes() == local.read_bytes()


def test_ray_errors_are_clean_lines(tmp_path, tiny_onnx_model, ray_cluster):
    source = tmp_path / "in.csv"
    source.write_bytes(b'id,text\n1,fine\n2,"broken\n3,x\n')
    done = subprocess.run(
        [sys.executable, "-m", "moodline.cli", "score", str(source), str(tmp_path / "o.csv"), "--text-column", "text",
         "--model", str(tiny_onnx_model), "--engine", "ray", "--address", ray_cluster.address],
        env={**os.environ, "MOODLINE_NO_PROGRESS": "1"},
        capture_output=True,
        text=True,
        timeout=RAY_RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Error: " in done.stderr and "line 3 (a record running to line 4): malformed CSV" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.csv").exists()
