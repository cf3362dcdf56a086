from __future__ import annotations

import math
import time
import uuid
from pathlib import Path

import pytest

from moodline.inference.engine import Engine
from moodline.inference.sources import SST2_MODEL_NAME
from moodline.lifecycle.checks import ModelFacts, Monitor, OovMeter, psi, wilson_interval
from moodline.lifecycle.store import LoggedPrediction, Store
from tests.lifecycle.conftest import shifted_texts, sst2_rows


@pytest.fixture(scope="module")
def bundled() -> Engine:
    # The lifecycle tests feed binary (POSITIVE/NEGATIVE) feedback: the shipped binary model fits them.
    return Engine.load(SST2_MODEL_NAME, threads=1)


def log_predictions(store: Store, engine: Engine, texts: list[str]) -> None:
    now = time.time()
    store.add_predictions(
        [
            LoggedPrediction(
                uuid.uuid4().hex, now, engine.info.name, engine.info.version, t, p.label, p.score, p.scores
            )
            for t, p in zip(texts, engine.predict(texts), strict=True)
        ]
    )


def statuses(monitor: Monitor) -> dict[str, str]:
    return {c.name: c.status for c in monitor.run().checks}


def test_every_verdict_follows_the_stored_data(bundled, sst2_dev, tmp_path, lifecycle_settings):
    settings = lifecycle_settings(
        monitor_reference=100, monitor_recent=100, monitor_min_samples=50, accuracy_min_samples=30,
        baseline_accuracy=0.9, accuracy_tolerance=0.05,
    )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    facts = ModelFacts.of(bundled, settings)
    monitor = Monitor(store, settings, bundled, facts)
    rows = sst2_rows(sst2_dev, 500)

    # Too little data: no verdict at all, never a failure.
    log_predictions(store, bundled, [t for t, _ in rows[:60]])
    first = statuses(monitor)
    assert first["label_drift"] == first["accuracy"] == first["oov_drift"] == "insufficient_data"

    # Reference and latest windows from the same distribution: every drift check passes.
    log_predictions(store, bundled, [t for t, _ in rows[60:240]])
    assert {k: v for k, v in statuses(monitor).items() if k != "accuracy"} == {
        "label_drift": "ok", "confidence_drift": "ok", "length_drift": "ok", "oov_drift": "ok", "model_age": "ok",
        "estimated_accuracy": "ok", "text_drift": "ok",
    }  # fmt: skip

    # Only negative reviews arrive: the predicted-label mix shifts; lengths and vocabulary do not.
    negatives = [t for t, label in rows[240:] if label == "NEGATIVE"][:100]
    log_predictions(store, bundled, negatives)
    report = {c.name: c for c in monitor.run().checks}
    assert report["label_drift"].status == "fail" and report["label_drift"].value > 0.25
    assert report["length_drift"].status == "ok" and report["oov_drift"].status == "ok"

    # Texts in a vocabulary the model does not know: unknown-word share and length drift.
    log_predictions(store, bundled, [t for t, _ in shifted_texts(100)])
    report = {c.name: c for c in monitor.run().checks}
    assert report["oov_drift"].status == "fail", report["oov_drift"].message
    assert report["length_drift"].status == "fail", report["length_drift"].message
    assert report["oov_drift"].details["latest_share"] == pytest.approx(0.25)  # 2 of 8 words

    # Accuracy: labelled feedback from the known distribution passes, the shifted one fails.
    for text, label in rows[:40]:
        store.add_feedback(text=text, label=label)
    accuracy = monitor.accuracy()
    assert accuracy.status == "ok" and accuracy.samples == 40 and accuracy.value > 0.8
    for text, label in shifted_texts(60, seed=1):
        store.add_feedback(text=text, label=label)
    accuracy = monitor.accuracy()
    assert accuracy.status == "fail" and accuracy.samples == 100, accuracy.message
    assert accuracy.details["ci_high"] < 0.85

    # Model age comes from the model's creation time.
    assert monitor.model_age().status == "ok"
    old = Monitor(store, settings, bundled, facts, clock=lambda: facts.created_at + 400 * 86400)
    assert old.model_age().status == "fail" and old.model_age().value == pytest.approx(400)


def test_few_feedback_rows_give_no_accuracy_verdict(bundled, tmp_path, lifecycle_settings):
    settings = lifecycle_settings(baseline_accuracy=0.99, accuracy_min_samples=20)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    for text, label in shifted_texts(10):
        store.add_feedback(text=text, label="NEGATIVE" if label == "POSITIVE" else "POSITIVE")
    result = Monitor(store, settings, bundled, ModelFacts.of(bundled, settings)).accuracy()
    assert result.status == "insufficient_data" and "needs 20" in result.message


def test_wilson_interval_and_psi():
    low, high = wilson_interval(45, 50)
    assert low == pytest.approx(0.7864, abs=1e-3) and high == pytest.approx(0.9565, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * math.log(1.8) - 0.4 * math.log(0.2), rel=1e-3)


def test_oov_meter_counts_unknown_and_fragmented_words(bundled):
    meter = OovMeter(Path(bundled.info.path) / "tokenizer.json")
    known, unknown = meter.shares(["the film was great", "the deploy was zorbly and grumbolic"])
    assert known == 0.0
    assert unknown == pytest.approx(2 / 6)
