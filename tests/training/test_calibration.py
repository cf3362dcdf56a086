from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from moodline.inference.engine import Engine
from moodline.training.calibration import apply_temperature, calibrate_model, fit_temperature, restricted
from moodline.training.evaluation import calibration
from moodline.training.mixture import SourceData


def sampled(temperature: float, rows: int = 4000, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Logits and labels drawn from softmax(logits / temperature): the true temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(rows, 3))
    probabilities = apply_temperature(logits, temperature)
    labels = [int(rng.choice(3, p=row)) for row in probabilities]
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.7, 1.0, 2.5])
def test_fit_recovers_the_temperature_the_labels_were_drawn_with(true_temperature):
    logits, labels = sampled(true_temperature)
    fit = fit_temperature([(logits, labels, (0, 1, 2))])
    assert fit.temperature == pytest.approx(true_temperature, rel=0.08)
    assert fit.nll_after <= fit.nll_before


def test_calibration_lowers_the_expected_calibration_error_of_an_overconfident_model():
    logits, labels = sampled(2.5, seed=1)  # the model's logits are 2.5x too sharp
    fit = fit_temperature([(logits, labels, (0, 1, 2))])
    truth = np.asarray(labels)
    before, _ = calibration(apply_temperature(logits, 1.0).max(1), logits.argmax(1) == truth)
    after, _ = calibration(apply_temperature(logits, fit.temperature).max(1), logits.argmax(1) == truth)
    assert before > 0.1 and after < 0.03


def test_each_set_weighs_the_same_and_partial_sets_are_renormalised():
    sharp, sharp_labels = sampled(3.0, rows=500, seed=2)
    soft, soft_labels = sampled(1.0, rows=5000, seed=3)
    pooled = fit_temperature([(sharp, sharp_labels, (0, 1, 2)), (soft, soft_labels, (0, 1, 2))])
    # Ten times the rows do not make the second set decide alone: the fit lands between the two.
    assert 1.3 < pooled.temperature < 2.7
    two_way = restricted(apply_temperature(sharp, 1.0), [0, 2])
    assert np.allclose(two_way.sum(1), 1.0) and np.all(two_way[:, 1] == 0)
    with pytest.raises(ValueError, match="non-empty"):
        fit_temperature([])


def test_calibrate_model_stores_a_temperature_the_engine_applies(tiny_onnx_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_onnx_model, model)
    texts = [f"text number {i} is {'good' if i % 2 else 'bad'}" for i in range(60)]
    raw = Engine.load(model)
    predicted = [int(np.argmax(list(p.scores.values()))) for p in raw.predict(texts)]
    # Labels that agree with the model 40 % of the time: less often than its confidence says.
    labels = [p if i % 10 < 4 else (p + 1) % 3 for i, p in enumerate(predicted)]
    dev = SourceData("dev", texts, labels, (0, 1, 2))
    before = json.loads((model / "moodline.json").read_text())
    report = calibrate_model(model, [dev], ["negative", "neutral", "positive"], tmp_path / "plots")
    after = json.loads((model / "moodline.json").read_text())
    assert after["temperature"] == pytest.approx(report["temperature"], rel=1e-5)
    assert report["temperature"] > 1.0
    assert after["version"] != before["version"]  # cached probabilities of the old calibration are not reused
    assert report["sets"]["dev"]["ece_after"] < report["sets"]["dev"]["ece_before"]
    assert (tmp_path / "plots" / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    calibrated = Engine.load(model)
    assert calibrated.temperature == after["temperature"]
    for a, b in zip(raw.predict(texts), calibrated.predict(texts), strict=True):
        assert a.label == b.label and b.score < a.score  # same answers, honest confidence
    assert Engine.load(model, temperature=1.0).predict(texts[:1])[0].score == pytest.approx(
        raw.predict(texts[:1])[0].score
    )


def test_the_worst_ece_objective_serves_the_set_the_average_fails():
    from moodline.training.calibration import _worst_ece

    sharp, sharp_labels = sampled(2.0, rows=3000, seed=4)  # over-confident: wants a temperature of 2
    soft, soft_labels = sampled(0.6, rows=3000, seed=5)  # under-confident: wants 0.6
    sets = [(sharp, sharp_labels, (0, 1, 2)), (soft, soft_labels, (0, 1, 2))]
    nll = fit_temperature(sets)
    worst = fit_temperature(sets, objective="worst-ece")
    assert _worst_ece(sets, worst.temperature) < _worst_ece(sets, nll.temperature)
    assert 0.6 < worst.temperature < 2.0
    with pytest.raises(ValueError, match="objective"):
        fit_temperature(sets, objective="mse")  # type: ignore[arg-type]
