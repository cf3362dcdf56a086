"""Accuracy and macro-F1 estimated from calibrated probabilities alone, without any label.

Confidence-based performance estimation: when a model is calibrated, the probability of its top label
is the chance that the label is right. So over a window of predictions:

* expected accuracy = the mean top probability;
* its band: the number of right answers is a sum of independent Bernoulli(p_i) draws (a Poisson
  binomial), with variance sum p_i (1 - p_i); the band is estimate +- z * sqrt(variance) / n, where the
  window's realised accuracy lies if the calibration holds;
* expected confusion matrix: row = true label, column = predicted label; a prediction adds its whole
  probability vector to its predicted label's column; expected macro-F1 is read from that matrix, and
  its band comes from drawing true labels from the probability vectors (seeded, so reproducible).

The estimate is only as good as the calibration on the traffic: under a shift that the model is
confidently wrong about, it stays too high. The text drift check is there for that case.

Example::

    estimate = estimate_performance([[0.9, 0.1], [0.2, 0.8]], ["NEGATIVE", "POSITIVE"])
    estimate.accuracy   # 0.85
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["PerformanceEstimate", "estimate_performance", "expected_confusion", "macro_f1"]

F1_DRAWS = 200


@dataclass(frozen=True)
class PerformanceEstimate:
    """What a window of calibrated predictions says about its own accuracy and macro-F1."""

    samples: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    macro_f1: float
    macro_f1_low: float
    macro_f1_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_confusion(probabilities: np.ndarray) -> np.ndarray:
    """Expected counts (true label x predicted label) when each row's probabilities are calibrated."""
    probabilities = np.asarray(probabilities, dtype=float)
    predicted = probabilities.argmax(axis=1)
    labels = probabilities.shape[1]
    matrix = np.zeros((labels, labels))
    for column in range(labels):
        matrix[:, column] = probabilities[predicted == column].sum(axis=0)
    return matrix


def macro_f1(confusion: np.ndarray) -> float:
    """Macro-F1 of a (true x predicted) confusion matrix; a label never true nor predicted is left out."""
    confusion = np.asarray(confusion, dtype=float)
    true_positive = np.diag(confusion)
    false_positive = confusion.sum(axis=0) - true_positive
    false_negative = confusion.sum(axis=1) - true_positive
    denominator = 2 * true_positive + false_positive + false_negative
    present = denominator > 0
    if not present.any():
        return 0.0
    return float(np.mean(2 * true_positive[present] / denominator[present]))


def estimate_performance(
    probabilities: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[str],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> PerformanceEstimate:
    """Estimated accuracy and macro-F1 of a window, with bands at ``confidence``.

    ``probabilities`` has one row per prediction, columns in the order of ``labels``.
    """
    matrix = np.asarray(probabilities, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(labels) or len(matrix) == 0:
        raise ValueError(f"need an (n, {len(labels)}) probability matrix with n > 0, got shape {matrix.shape}")
    n = len(matrix)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    top = matrix.max(axis=1)
    accuracy = float(top.mean())
    half = z * math.sqrt(float(np.sum(top * (1 - top)))) / n
    f1 = macro_f1(expected_confusion(matrix))
    f1_low, f1_high = _f1_band(matrix, confidence, seed)
    return PerformanceEstimate(
        samples=n,
        accuracy=accuracy,
        accuracy_low=max(0.0, accuracy - half),
        accuracy_high=min(1.0, accuracy + half),
        macro_f1=f1,
        macro_f1_low=min(f1_low, f1),
        macro_f1_high=max(f1_high, f1),
    )


def _f1_band(matrix: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    """Percentiles of the realised macro-F1 when true labels are drawn from the probabilities."""
    rng = np.random.default_rng(seed)
    n, labels = matrix.shape
    predicted = matrix.argmax(axis=1)
    cumulative = np.cumsum(matrix / matrix.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((F1_DRAWS, n, 1))
    true = np.minimum((draws > cumulative[None, :, :]).sum(axis=2), labels - 1)  # (draws, n)
    scores = np.empty(F1_DRAWS)
    for draw in range(F1_DRAWS):
        confusion = np.zeros((labels, labels))
        np.add.at(confusion, (true[draw], predicted), 1)
        scores[draw] = macro_f1(confusion)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)
