"""Kill `moodline score` with SIGKILL at random moments, resume it, and get the uninterrupted output.

The kill points come from ``random_seed`` (printed; ``MOODLINE_TEST_SEED=N`` replays the same targets
and delays). Where a kill lands within a chunk still depends on the machine's timing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodline.scoring import work_directory
from tests.scoring.conftest import write_csv

ROWS = 12_000
CHUNK_ROWS = 150
# Longer than a whole job takes even on a busy machine: past this the job is hung and the test says so,
# instead of killing it wherever it happens to be.
HANG_S = 300


def command(source: Path, output: Path, model: Path) -> list[str]:
    return [
        sys.executable, "-m", "moodline.cli", "score", str(source), str(output), "--text-column", "text",
        "--id-column", "id", "--model", str(model), "--chunk-rows", str(CHUNK_ROWS), "--threads", "1",
    ]  # fmt: skip


def committed_rows(output: Path) -> int:
    manifest = work_directory(output) / "manifest.json"
    return int(json.loads(manifest.read_text())["rows"]) if manifest.is_file() else 0


def test_sigkill_at_random_points_then_resume_gives_the_same_output(tmp_path, tiny_onnx_model, random_seed):
    source = write_csv(tmp_path / "in.csv", ROWS, bad_every=97)
    env = {**os.environ, "MOODLINE_NO_PROGRESS": "1"}
    reference = tmp_path / "reference.csv"
    subprocess.run(command(source, reference, tiny_onnx_model), env=env, check=True, timeout=HANG_S)

    seed = random_seed
    chooser = random.Random(seed)
    output = tmp_path / "out.csv"
    # kill once the job has committed a random number of rows, a random few ms later (mid-chunk,
    # mid-commit, mid-manifest); the last target is the end, so the kill lands around the assembly.
    # The random ones leave ten chunks to go: a kill up to 50 ms late must still find the job running.
    targets = [*sorted(chooser.sample(range(1, ROWS - 10 * CHUNK_ROWS), 4)), ROWS]
    progress: list[int] = []
    for target in targets:
        process = subprocess.Popen(command(source, output, tiny_onnx_model), env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + HANG_S
        while committed_rows(output) < target and process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(
                    f"seed {seed}: {committed_rows(output)} rows committed after {HANG_S} s, waiting for {target}"
                )
            time.sleep(0.005)
        time.sleep(chooser.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        if output.exists():  # finished, or killed after the rename: the output must be whole already
            assert output.read_bytes() == reference.read_bytes(), f"seed {seed}: a partial output appeared"
            break
        progress.append(committed_rows(output))
    if not output.exists() or work_directory(output).exists():  # killed before the clean-up: run it again
        done = subprocess.run(
            command(source, output, tiny_onnx_model), env=env, capture_output=True, text=True, timeout=HANG_S
        )
        assert done.returncode == 0, done.stderr
        if progress[-1]:
            assert f"resumed after {progress[-1]:,}" in done.stdout, (done.stdout, seed)
    assert output.read_bytes() == reference.read_bytes(), f"seed {seed}, committed rows at each kill: {progress}"
    assert not work_directory(output).exists()
    # the kills must have landed mid-job, after some chunks and before the last, or nothing was tested
    assert sum(0 < rows < ROWS for rows in progress) >= 3, f"seed {seed}: kills landed at {progress}"
    assert progress == sorted(progress), "a resume must never lose committed chunks"
