from __future__ import annotations

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.core.settings import get_settings
from tests.lifecycle.conftest import plain_texts, write_tsv
from tests.servers import require_module

pytestmark = pytest.mark.slow


def test_train_with_the_wandb_tracker_in_offline_mode(tiny_hf_model, tmp_path, monkeypatch):
    require_module("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MOODLINE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    data = write_tsv(tmp_path / "train.tsv", plain_texts(80, seed=8))
    try:
        result = CliRunner().invoke(
            main,
            ["train", "--tracker", "wandb", "--data", str(data), "--output", str(tmp_path / "run"),
             "--base", str(tiny_hf_model), "--labels", "NEGATIVE,POSITIVE", "--epochs", "2", "--patience", "0"],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
        import wandb

        # The offline log is written by wandb's service process; shutting it down flushes the file
        # (read straight after the run it was, on a loaded machine, sometimes still only its header).
        wandb.teardown()
    assert result.exit_code == 0, result.output
    run_id = result.output.strip().rsplit("wandb run ", 1)[1]
    [run_dir] = (tmp_path / "data" / "wandb").glob(f"offline-run-*-{run_id}")
    # The offline log (protobuf records, kept for `wandb sync`) holds the config, history and artifacts.
    [log] = run_dir.glob("run-*.wandb")
    records = log.read_bytes()
    for key in (b"label_names", b"learning_rate", b"dev_accuracy", b"train_loss", b"eval_accuracy", b"eval_ece"):
        assert key in records, key
    assert b"training_curve.png" in records and b"report.json" in records and b"model.safetensors" in records
