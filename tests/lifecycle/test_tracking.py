from __future__ import annotations

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.core.settings import Settings, get_settings
from moodline.inference.registry import mlflow_client
from tests.lifecycle.conftest import plain_texts, write_tsv

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def artifact_paths(client, run_id: str, path: str | None = None) -> set[str]:  # type: ignore[no-untyped-def]
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


@pytest.mark.parametrize("where", ["server", "embedded"])
def test_train_logs_params_metrics_report_plots_and_model(where, mlflow_server, tiny_hf_model, tmp_path, monkeypatch):
    monkeypatch.setenv("MOODLINE_DATA_DIR", str(tmp_path / "data"))
    if where == "server":
        monkeypatch.setenv("MOODLINE_MLFLOW_URI", mlflow_server)
    get_settings.cache_clear()
    data = write_tsv(tmp_path / "train.tsv", plain_texts(120, seed=7))
    try:
        result = CliRunner().invoke(
            main,
            ["train", "--data", str(data), "--output", str(tmp_path / "run"), "--base", str(tiny_hf_model),
             "--labels", "NEGATIVE,POSITIVE", "--epochs", "2", "--batch-size", "16", "--lr", "1e-3", "--patience", "0"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        run_id = result.output.strip().rsplit("mlflow run ", 1)[1]
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    if where == "embedded":
        assert (tmp_path / "data" / "mlflow.db").is_file()
        settings = Settings(data_dir=str(tmp_path / "data"))
    client = mlflow_client(settings)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "2" and run.data.params["label_names"] == '["NEGATIVE", "POSITIVE"]'
    history = client.get_metric_history(run_id, "dev_accuracy")
    assert len(history) == 2 and history[0].step < history[1].step
    assert 0 <= run.data.metrics["eval_accuracy"] <= 1 and "eval_ece" in run.data.metrics
    artifacts = artifact_paths(client, run_id)
    assert {
        "metrics.json",
        "training_curve.png",
        "evaluation/report.json",
        "evaluation/confusion_matrix.png",
        "evaluation/reliability.png",
        "model/config.json",
        "model/model.safetensors",
        "model/tokenizer.json",
    } <= artifacts
    assert not any(path.startswith("model/checkpoints") for path in artifacts)


def test_a_tracking_server_that_is_down_fails_before_training(tmp_path, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("MOODLINE_MLFLOW_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    get_settings.cache_clear()
    data = write_tsv(tmp_path / "train.tsv", plain_texts(20))
    try:
        result = CliRunner().invoke(main, ["train", "--data", str(data), "--output", str(tmp_path / "run")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot start an MLflow run") and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
