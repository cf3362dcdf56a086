"""The label-free estimate's arithmetic on hand-made probabilities, and the text drift classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moodline.lifecycle.estimation import estimate_performance, expected_confusion, macro_f1
from moodline.lifecycle.text_drift import measure_text_drift
from tests.lifecycle.conftest import plain_texts, shifted_texts


def test_estimate_of_two_predictions_by_hand():
    estimate = estimate_performance([[0.9, 0.1], [0.2, 0.8]], ["NEGATIVE", "POSITIVE"], confidence=0.95)
    assert estimate.accuracy == pytest.approx(0.85)
    # Poisson-binomial: variance 0.9*0.1 + 0.8*0.2 = 0.25, so the half-width is 1.96 * 0.5 / 2.
    assert estimate.accuracy_low == pytest.approx(0.85 - 1.959964 * 0.5 / 2, abs=1e-6)
    assert estimate.accuracy_high == 1.0  # clipped
    # Expected confusion (true x predicted): column 0 gets [0.9, 0.1], column 1 gets [0.2, 0.8].
    assert expected_confusion(np.array([[0.9, 0.1], [0.2, 0.8]])).tolist() == [[0.9, 0.2], [0.1, 0.8]]
    f1_negative = 2 * 0.9 / (2 * 0.9 + 0.1 + 0.2)
    f1_positive = 2 * 0.8 / (2 * 0.8 + 0.2 + 0.1)
    assert estimate.macro_f1 == pytest.approx((f1_negative + f1_positive) / 2)
    assert estimate.macro_f1_low <= estimate.macro_f1 <= estimate.macro_f1_high


def test_certain_predictions_estimate_exactly():
    probabilities = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    estimate = estimate_performance(probabilities, ["NEGATIVE", "NEUTRAL", "POSITIVE"])
    assert (estimate.accuracy, estimate.accuracy_low, estimate.accuracy_high) == (1.0, 1.0, 1.0)
    assert estimate.macro_f1 == estimate.macro_f1_low == estimate.macro_f1_high == 1.0


def test_macro_f1_of_a_known_confusion_matrix():
    confusion = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])  # the third label never true nor predicted: left out
    assert macro_f1(confusion) == pytest.approx(np.mean([10 / (10 + 2 + 1), 6 / (6 + 1 + 2)]))
    confusion[1, 2] = 1  # predicted once, never right: it counts, with F1 0
    assert macro_f1(confusion) == pytest.approx(np.mean([10 / 13, 6 / (6 + 1 + 3), 0.0]))


def test_band_holds_the_realised_accuracy_of_calibrated_windows_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    inside, windows = 0, 600
    for _ in range(windows):
        probabilities = rng.dirichlet([2.0, 1.0, 2.0], size=300)
        true = np.array([rng.choice(3, p=row) for row in probabilities])  # labels drawn as calibration says
        realised = float(np.mean(probabilities.argmax(1) == true))
        estimate = estimate_performance(probabilities, ["a", "b", "c"])
        inside += estimate.accuracy_low <= realised <= estimate.accuracy_high
    assert 0.92 <= inside / windows <= 0.98


def test_bad_probability_matrices_are_refused():
    with pytest.raises(ValueError, match="probability matrix"):
        estimate_performance([[0.5, 0.5]], ["a", "b", "c"])
    with pytest.raises(ValueError, match="n > 0"):
        estimate_performance(np.zeros((0, 2)), ["a", "b"])


def test_text_drift_fires_on_a_new_vocabulary_and_names_it():
    reference = [t for t, _ in plain_texts(150, seed=1)]
    shifted = [t for t, _ in shifted_texts(150, seed=2)]
    drift = measure_text_drift(reference, shifted, permutations=5, seed=0)
    assert drift.auc > 0.95 and drift.auc > drift.permutation_max
    assert math.isclose(drift.permutation_p, 1 / 6)
    top = {w.word for w in drift.recent_words[:8]}
    assert top & {"deploy", "rollout", "zorbly", "flimzy", "quantastic", "grumbolic", "snarfed", "blorped"}
    assert {w.word for w in drift.reference_words} & {"film", "great", "awful", "lovely", "boring"}
    assert drift.examples and all(e in shifted for e in drift.examples)


def test_text_drift_stays_quiet_on_one_distribution():
    for seed in range(3):
        reference = [t for t, _ in plain_texts(150, seed=10 + seed)]
        recent = [t for t, _ in plain_texts(150, seed=20 + seed)]
        drift = measure_text_drift(reference, recent, permutations=5, seed=seed)
        assert drift.auc < 0.7, drift.auc
