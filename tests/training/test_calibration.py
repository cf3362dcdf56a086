from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.inference.temperature import REFERENCE_TOKENS, UNCALIBRATED, Temperature
from moodline.training.calibration import (
    ScoredSet,
    _worst_ece,
    apply_temperature,
    calibrate_model,
    fit_temperature,
    restricted,
)
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
    assert Engine.load(model, calibration=UNCALIBRATED).predict(texts[:1])[0].score == pytest.approx(
        raw.predict(texts[:1])[0].score
    )


def test_the_worst_ece_objective_serves_the_set_the_average_fails():
    sharp, sharp_labels = sampled(2.0, rows=3000, seed=4)  # over-confident: wants a temperature of 2
    soft, soft_labels = sampled(0.6, rows=3000, seed=5)  # under-confident: wants 0.6
    sets = [ScoredSet(sharp, sharp_labels, (0, 1, 2)), ScoredSet(soft, soft_labels, (0, 1, 2))]
    nll = fit_temperature(sets)
    worst = fit_temperature(sets, objective="worst-ece")
    assert _worst_ece(sets, worst.temperature) < _worst_ece(sets, nll.temperature)
    assert 0.6 < worst.temperature < 2.0
    with pytest.raises(ValueError, match="objective"):
        fit_temperature(sets, objective="mse")  # type: ignore[arg-type]


def test_a_length_dependent_miscalibration_is_fitted_by_the_length_exponent():
    # Short texts are over-confident (their labels were drawn at T=1.8), long ones under-confident
    # (T=0.8): no single temperature serves both, a temperature that falls with length does.
    short, short_labels = sampled(1.8, rows=3000, seed=6)
    long, long_labels = sampled(0.8, rows=3000, seed=7)
    sets = [
        ScoredSet(short, short_labels, (0, 1, 2), np.full(3000, 8)),
        ScoredSet(long, long_labels, (0, 1, 2), np.full(3000, 128)),
    ]
    by_length = fit_temperature(sets, objective="worst-ece")
    single = fit_temperature([ScoredSet(*s[:3]) for s in sets], objective="worst-ece")
    assert single.length_exponent == 0.0  # no lengths, nothing to fit them with
    assert by_length.length_exponent < -0.1
    assert _worst_ece(sets, by_length.calibration) < 0.03 < _worst_ece(sets, single.temperature)
    # The length term carries it; a margin term may pick up the sampling noise, no more.
    assert abs(by_length.margin_exponent) <= 0.1, by_length
    of_length = Temperature(by_length.temperature, by_length.length_exponent)
    assert of_length.per_text(np.array([8]))[0] == pytest.approx(1.8, rel=0.15)
    assert of_length.per_text(np.array([128]))[0] == pytest.approx(0.8, rel=0.15)


def test_the_temperature_of_a_text_follows_its_length():
    temperature = Temperature(1.25, -0.1)
    short, reference, long = temperature.per_text(np.array([4, REFERENCE_TOKENS, 256]))
    assert reference == pytest.approx(1.25) and short > reference > long
    assert np.all(Temperature(1.25).per_text(np.array([4, 256])) == 1.25)
    logits = np.array([[2.0, 0.0, -1.0], [2.0, 0.0, -1.0]])
    scaled = temperature.scale(logits, np.array([4, 256]))
    assert np.all(scaled.argmax(1) == 0) and scaled[0, 0] < scaled[1, 0]  # the short one reads less sure
    for bad in ({"value": 0.0}, {"value": float("nan")}, {"value": 1.0, "length_exponent": 2.0}):
        with pytest.raises(InvalidInputError):
            Temperature(**bad)


def test_a_margin_dependent_miscalibration_is_fitted_by_the_margin_exponent():
    # Labels drawn at a temperature that falls as the model grows more decided: middling answers
    # over-confident, clear-cut ones under-confident, at one length. Only the margin term serves both.
    rng = np.random.default_rng(8)
    logits = rng.normal(0, 3, size=(6000, 3))
    truth = Temperature(1.3, 0.0, -0.25).per_text(None, logits)
    labels = [int(rng.choice(3, p=row)) for row in apply_temperature(logits, truth)]
    halves = [ScoredSet(logits[:3000], labels[:3000], (0, 1, 2)), ScoredSet(logits[3000:], labels[3000:], (0, 1, 2))]
    fit = fit_temperature(halves, objective="worst-ece")
    assert -0.35 < fit.margin_exponent < -0.15 and fit.length_exponent == 0.0  # no lengths given
    uniform = fit_temperature(halves, objective="nll")
    assert _worst_ece(halves, fit.calibration) < _worst_ece(halves, uniform.temperature)


def test_a_margin_dependent_temperature_keeps_labels_and_the_order_of_confidence():
    temperature = Temperature(1.2, 0.0, -0.3)
    logits = np.array([[0.2, 0.0, -1.0], [1.0, 0.0, -1.0], [3.0, 0.0, -1.0], [8.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    probabilities = apply_temperature(temperature.scale(logits), 1.0)
    assert np.array_equal(probabilities.argmax(1)[:4], logits.argmax(1)[:4])
    assert np.all(np.diff(probabilities.max(1)[:4]) > 0)  # more decided still reads more confident
    assert np.isfinite(probabilities).all()  # a tie (the last row) is scored, not divided by zero
    for bad in (0.6, -0.6, float("inf")):
        with pytest.raises(InvalidInputError):
            Temperature(1.0, 0.0, bad)


def test_the_engine_applies_a_stored_length_dependent_temperature(tiny_onnx_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_onnx_model, model)
    meta = json.loads((model / "moodline.json").read_text())
    meta.update(temperature=1.5, temperature_length_exponent=-0.3, temperature_margin_exponent=-0.2)
    (model / "moodline.json").write_text(json.dumps(meta))
    texts = ["bad", "good " * 60]
    raw = Engine.load(model, calibration=UNCALIBRATED)
    stored = Engine.load(model)
    assert stored.calibration == Temperature(1.5, -0.3, -0.2) and raw.calibration.is_identity
    lengths = np.array([len(e.ids) for e in raw.tokenizer.encode(texts)])
    logits = np.log(raw.probabilities(texts)[0])
    expected = apply_temperature(logits, Temperature(1.5, -0.3, -0.2).per_text(lengths, logits))
    assert np.allclose(stored.probabilities(texts)[0], expected, atol=1e-5)


def label_dependent(rows: int, bias: np.ndarray, seed: int) -> tuple[np.ndarray, list[int]]:
    """Logits leaning by ``bias``, labels drawn as a model over-confident in its polar answers (true
    temperature 1.6 where it answers 0 or 2) and under-confident in its neutral ones (0.7)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(rows, 3)) + bias
    truth = Temperature(1.0, 0.0, 0.0, (1.6, 0.7, 1.6)).per_text(None, logits)
    return logits, [int(rng.choice(3, p=row)) for row in apply_temperature(logits, truth)]


def test_a_label_dependent_miscalibration_is_fitted_by_label_factors():
    # One set mostly answered neutral, one mostly polar: the temperature each wants differs by the
    # answer, not by length or margin, so only a factor per label answered serves both.
    calm, calm_labels = label_dependent(3000, np.array([0.0, 3.0, 0.0]), seed=9)
    polar, polar_labels = label_dependent(3000, np.array([1.5, -3.0, 1.5]), seed=10)
    sets = [ScoredSet(calm, calm_labels, (0, 1, 2)), ScoredSet(polar, polar_labels, (0, 1, 2))]
    plain = fit_temperature(sets, objective="worst-ece")
    by_label = fit_temperature(sets, objective="worst-ece-by-label")
    assert plain.label_factors == ()
    assert _worst_ece(sets, by_label.calibration) < 0.03 < _worst_ece(sets, plain.calibration)
    negative, neutral, positive = (by_label.temperature * f for f in by_label.label_factors)
    assert neutral == pytest.approx(0.7, rel=0.2) and negative == pytest.approx(1.6, rel=0.2)
    assert positive == pytest.approx(1.6, rel=0.2)
    # Where the answer does not matter the by-label fit is never worse than the plain one.
    sharp, sharp_labels = sampled(2.0, rows=2000, seed=11)
    uniform = [ScoredSet(sharp, sharp_labels, (0, 1, 2))]
    assert _worst_ece(uniform, fit_temperature(uniform, objective="worst-ece-by-label").calibration) <= _worst_ece(
        uniform, fit_temperature(uniform, objective="worst-ece").calibration
    )


def test_label_factors_keep_every_label_and_are_checked():
    temperature = Temperature(1.0, 0.0, 0.0, (1.5, 0.5, 1.5))
    logits = np.array([[2.0, 1.9, -1.0], [1.9, 2.0, -1.0], [-1.0, 0.0, 4.0]])
    scaled = temperature.scale(logits)
    assert np.array_equal(scaled.argmax(1), logits.argmax(1))
    assert np.allclose(temperature.per_text(None, logits), [1.5, 0.5, 1.5])
    assert not temperature.is_uniform and not temperature.is_identity
    assert temperature.formula(["NEGATIVE", "NEUTRAL", "POSITIVE"]) == (
        "1.000 x (by the label answered: NEGATIVE 1.50, NEUTRAL 0.50, POSITIVE 1.50)"
    )
    with pytest.raises(InvalidInputError, match="2 temperature label factors for a model of 3 labels"):
        Temperature(1.0, 0.0, 0.0, (1.0, 1.0)).per_text(None, logits)
    for bad in ((1.0, 5.0, 1.0), (1.0, float("nan"), 1.0), (0.1, 1.0, 1.0)):
        with pytest.raises(InvalidInputError, match="label factors"):
            Temperature(1.0, 0.0, 0.0, bad)


def test_the_engine_applies_stored_label_factors_and_refuses_a_wrong_count(tiny_onnx_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_onnx_model, model)
    texts = [f"text number {i} is {'good' if i % 2 else 'bad'}" for i in range(12)]
    raw = Engine.load(model, calibration=UNCALIBRATED)
    dev = SourceData("dev", texts, [int(np.argmax(row)) for row in raw.probabilities(texts)[0]], (0, 1, 2))
    report = calibrate_model(model, [dev], ["negative", "neutral", "positive"], objective="worst-ece-by-label")
    meta = json.loads((model / "moodline.json").read_text())
    factors = meta.get("temperature_label_factors", [])
    assert report["label_factors"] == dict(zip(raw.labels, factors, strict=True))
    meta["temperature_label_factors"] = [1.5, 0.6, 1.2]
    (model / "moodline.json").write_text(json.dumps(meta))
    stored = Engine.load(model)
    assert stored.calibration.label_factors == (1.5, 0.6, 1.2)
    logits = np.log(raw.probabilities(texts)[0])
    lengths = np.array([len(e.ids) for e in raw.tokenizer.encode(texts)])
    expected = apply_temperature(logits, stored.calibration.per_text(lengths, logits))
    assert np.allclose(stored.probabilities(texts)[0], expected, atol=1e-5)
    assert [p.label for p in stored.predict(texts)] == [p.label for p in raw.predict(texts)]
    meta["temperature_label_factors"] = [1.5, 0.6]
    (model / "moodline.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidInputError, match="2 temperature label factors for 3 labels"):
        Engine.load(model)
