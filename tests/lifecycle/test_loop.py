"""The whole lifecycle on small data: serve, log, feedback, failing check, email, retraining, gate, hot swap."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from moodline.core.locations import store_url
from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.inference.registry import mlflow_client
from moodline.inference.sources import MODELS_DIR, SST2_MODEL_NAME
from moodline.lifecycle.registry import ModelRegistry
from moodline.lifecycle.retrain import gate, retrain
from moodline.lifecycle.store import Store
from moodline.server import create_app
from tests.lifecycle.conftest import SmtpServer, plain_texts, shifted_texts, write_tsv
from tests.servers import app_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Binary feedback and a binary base set: the loop runs on the shipped binary model.
CHAMPION_DIR = MODELS_DIR / SST2_MODEL_NAME


def register_bundled_champion(settings: Settings) -> str:
    """The shipped binary model as the first champion, with its accuracy on clear reviews as the baseline."""
    engine = Engine.load(CHAMPION_DIR, threads=1)
    rows = plain_texts(100, seed=10)
    accuracy = sum(p.label == y for p, (_, y) in zip(engine.predict([t for t, _ in rows]), rows, strict=True)) / 100
    registry = ModelRegistry(settings)
    version = registry.register(CHAMPION_DIR, tags={"eval_accuracy": f"{accuracy:.4f}"})
    registry.set_alias("champion", version)
    return version


def loop_settings(
    make: Any, mlflow_server: str, tiny_hf_model: Path, tmp_path: Path, smtp: SmtpServer, **extra: Any
) -> Settings:
    name = f"loop-{uuid.uuid4().hex[:8]}"
    values: dict[str, Any] = {
        "mlflow_uri": mlflow_server,
        "registry_name": name,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "retrain_data": str(write_tsv(tmp_path / "base.tsv", plain_texts(150, seed=20))),
        "retrain_base_model": str(tiny_hf_model),
        "retrain_epochs": 6,
        "retrain_learning_rate": 2e-3,
        "retrain_quantize": False,
        "retrain_margin": 0.05,
    }
    values.update(extra)
    return make(**values)


class Load:
    """Concurrent clients sending predictions until stopped; every answer is kept."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url = url
        self.results: list[tuple[int, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, index: int) -> None:
        texts = [t for t, _ in plain_texts(50, seed=100 + index)]
        with httpx.Client(base_url=self.url, timeout=30) as client:
            number = 0
            while not self._stop.is_set() and number < 20_000:
                try:
                    response = client.post("/predict", json={"text": texts[number % len(texts)]})
                    version = response.json().get("model", {}).get("version", "") if response.status_code == 200 else ""
                    self.results.append((response.status_code, version))
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                number += 1
                time.sleep(0.02)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_the_whole_loop_promotes_a_better_challenger_and_swaps_without_failures(
    mlflow_server, tiny_hf_model, tmp_path, lifecycle_settings, smtp_server
):
    settings = loop_settings(
        lifecycle_settings, mlflow_server, tiny_hf_model, tmp_path, smtp_server,
        prediction_sample_rate=1.0, monitor_interval_s=1.0, champion_poll_s=0.5,
        monitor_reference=40, monitor_recent=60, monitor_min_samples=30, accuracy_min_samples=30,
        retrain_on_failure=True,
    )  # fmt: skip
    settings.model = f"models:/{settings.registry_name}@champion"
    first = register_bundled_champion(settings)
    registry = ModelRegistry(settings)

    with app_in_thread(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        old_version = client.get("/readyz").json()["version"]
        # Serve the usual traffic: it becomes the reference window of this model version.
        for text, _ in plain_texts(40, seed=30):
            response = client.post("/predict", json={"text": text})
            assert response.status_code == 200 and len(response.headers["X-Prediction-Id"]) == 32
        # Then texts in a new vocabulary arrive, and users send back their true labels.
        for text, label in shifted_texts(60, seed=31):
            prediction_id = client.post("/predict", json={"text": text}).headers["X-Prediction-Id"]
            answer = client.post("/feedback", json={"prediction_id": prediction_id, "label": label.lower()})
            assert answer.status_code == 201, answer.text
            assert answer.json()["label"] == label

        # The periodic check notices, and the alert email arrives at the SMTP server.
        assert smtp_server.wait_for("] accuracy failing", timeout=60)
        report = client.get("/monitor").json()
        assert "accuracy" in report["failing"] and "oov_drift" in report["failing"]
        metrics = client.get("/metrics").text
        assert 'moodline_check_failing{check="accuracy"} 1.0' in metrics

        # The failing check started a retraining; the challenger wins and the server swaps under load.
        with Load(url) as load:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                if client.get("/readyz").json()["version"] != old_version:
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"the server never swapped; emails: {smtp_server.subjects()}")
            time.sleep(2)  # keep the load going on the new model
        statuses = Counter(status for status, _ in load.results)
        versions = Counter(version for _, version in load.results)
        assert load.errors == [] and set(statuses) == {200}, (statuses, load.errors[:3])
        assert len(versions) == 2 and old_version in versions, versions  # answered by both models, none failed
        assert smtp_server.wait_for("promoted to champion", timeout=30)
        assert (
            len([s for s in smtp_server.subjects() if "] accuracy failing" in s]) == 1
        )  # one alert, not one per check

        champion, challenger = registry.get(alias="champion"), registry.get(alias="challenger")
        assert champion is not None and challenger is not None
        assert champion.version == challenger.version != first
        run = mlflow_client(settings).get_run(champion.run_id)
        assert run.data.tags["decision"] == "promoted"
        assert run.data.metrics["challenger_accuracy"] >= run.data.metrics["champion_accuracy"] + 0.05
        # The new champion knows the new vocabulary.
        new = client.post("/predict", json={"texts": ["the deploy was zorbly", "the deploy was blorped"]}).json()
        assert [p["label"] for p in new["predictions"]] == ["POSITIVE", "NEGATIVE"]


def test_a_worse_challenger_is_never_promoted(mlflow_server, tiny_hf_model, tmp_path, lifecycle_settings, smtp_server):
    # A learning rate of ~0 leaves the tiny model at its random start: far worse than the champion.
    settings = loop_settings(
        lifecycle_settings, mlflow_server, tiny_hf_model, tmp_path, smtp_server,
        retrain_learning_rate=1e-12, retrain_epochs=1, retrain_margin=0.0,
        retrain_heldout=str(write_tsv(tmp_path / "heldout.tsv", plain_texts(40, seed=40))),
    )  # fmt: skip
    first = register_bundled_champion(settings)
    store = Store.open(store_url(settings))
    for text, label in plain_texts(30, seed=41):
        store.add_feedback(text=text, label=label)

    result = retrain(settings)

    assert not result.promoted and result.champion_version == first
    assert result.heldout_size == 40 + 9 and result.feedback_rows == 30
    assert result.champion_accuracy is not None and result.challenger_accuracy < result.champion_accuracy
    registry = ModelRegistry(settings)
    assert registry.get(alias="champion").version == first  # type: ignore[union-attr]
    assert registry.get(alias="challenger").version == result.challenger_version != first  # type: ignore[union-attr]
    run = mlflow_client(settings).get_run(result.run_id)
    assert run.data.tags["decision"] == "kept_champion"
    assert run.data.metrics["champion_accuracy"] == pytest.approx(result.champion_accuracy)
    assert smtp_server.wait_for("champion kept", timeout=10)


def test_the_gate_needs_a_strict_gain_of_at_least_the_margin():
    assert gate(0.80, None, 0.01)[0]
    assert gate(0.91, 0.90, 0.01)[0]
    assert not gate(0.905, 0.90, 0.01)[0]
    assert not gate(0.90, 0.90, 0.0)[0]
    assert not gate(0.70, 0.90, 0.0)[0]
