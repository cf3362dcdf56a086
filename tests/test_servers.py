"""Under CI a test whose program is missing fails, naming it; elsewhere it skips with that reason.

The Redis tests run in a child pytest with a PATH that holds no redis-server, once as CI runs them
(``CI=true``) and once as a contributor without the package does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

REDIS_TEST = "tests/integration/test_redis_cache.py::test_round_trip_and_model_version_in_the_key"
MISSING = "redis-server is not installed (make test installs it)"


def run_redis_test(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PATH"] = str(empty)  # nothing to find: redis-server is "removed from PATH"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfs", REDIS_TEST],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )


def test_under_ci_a_missing_redis_server_fails_the_redis_tests_naming_it(tmp_path):
    result = run_redis_test(tmp_path, ci="true")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 failed" in output and "skipped" not in output, output
    assert f"Failed: {MISSING}; CI must run this test" in output, output


@pytest.mark.parametrize("ci", [None, "false", "0"], ids=["unset", "false", "zero"])
def test_outside_ci_a_missing_redis_server_skips_with_its_reason(tmp_path, ci):
    result = run_redis_test(tmp_path, ci=ci)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 skipped" in output and "failed" not in output, output
    assert MISSING in output, output
