"""Fitting and measuring three-way sentiment: the neutral band of a binary model, and macro-F1 on labelled data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from moodline.core.datafiles import LabelledData
from moodline.core.errors import InvalidInputError
from moodline.inference.three_way import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    THREE_WAY_LABELS,
    ThreeWayBand,
    ThreeWayScorer,
    three_way_ids,
)
from moodline.training.evaluation import classification_report

__all__ = ["evaluate_three_way", "tune_band"]


def tune_band(p_positive: np.ndarray, labels: Sequence[int], *, step: float = 0.01) -> tuple[ThreeWayBand, float]:
    """The neutral band (on a grid of ``step``) that maximises macro-F1, and that macro-F1.

    ``labels`` are three-way ids (0 negative, 1 neutral, 2 positive). Every ``low <= high`` pair of the
    grid is scored at once from per-class counts, so a 0.01 grid over thousands of texts takes
    milliseconds. Ties go to the first pair in (low, high) order. Macro-F1 averages the classes present
    in ``labels``, as :func:`moodline.training.evaluation.classification_report` does.

    Example::

        band, f1 = tune_band(np.array([0.1, 0.5, 0.9]), [0, 1, 2])   # a band around 0.5, f1 == 1.0
    """
    p = np.asarray(p_positive, dtype=np.float64).ravel()
    y = np.asarray(labels)
    if len(p) == 0 or len(p) != len(y):
        raise InvalidInputError(f"need as many labels as probabilities (and at least one), got {len(y)} and {len(p)}")
    if not np.isin(y, (NEGATIVE, NEUTRAL, POSITIVE)).all():
        raise InvalidInputError("labels must be three-way ids: 0 negative, 1 neutral, 2 positive")
    if not 0.0 < step <= 0.5:
        raise InvalidInputError(f"step must be in (0, 0.5], got {step}")
    grid = np.unique(np.round(np.append(np.arange(0.0, 1.0, step), 1.0), 10))
    support = np.bincount(y, minlength=3)
    # below[c, i]: texts of class c with p < grid[i]; above[c, j]: texts of class c with p > grid[j].
    below = np.stack([np.searchsorted(np.sort(p[y == c]), grid, side="left") for c in range(3)])
    above = np.stack([support[c] - np.searchsorted(np.sort(p[y == c]), grid, side="right") for c in range(3)])
    low_counts = below[:, :, None]  # axis 1: low
    high_counts = above[:, None, :]  # axis 2: high
    neutral_counts = support[:, None, None] - low_counts - high_counts

    def f1(true_positive: np.ndarray, predicted: np.ndarray, actual: int) -> np.ndarray:
        total = predicted + actual
        return np.where(total > 0, 2 * true_positive / np.maximum(total, 1), 0.0)

    size = len(grid)
    per_class = [
        np.broadcast_to(f1(low_counts[NEGATIVE], low_counts.sum(0), int(support[NEGATIVE])), (size, size)),
        f1(neutral_counts[NEUTRAL], neutral_counts.sum(0), int(support[NEUTRAL])),
        np.broadcast_to(f1(high_counts[POSITIVE], high_counts.sum(0), int(support[POSITIVE])), (size, size)),
    ]
    present = [scores for scores, count in zip(per_class, support, strict=True) if count > 0]
    macro = np.mean(present, axis=0)
    macro[np.tril_indices(size, k=-1)] = -np.inf  # low > high is no band
    best = int(np.argmax(macro))
    low_index, high_index = divmod(best, size)
    return ThreeWayBand(float(grid[low_index]), float(grid[high_index])), float(macro[low_index, high_index])


def evaluate_three_way(scorer: ThreeWayScorer, data: LabelledData) -> dict[str, Any]:
    """Three-way quality of ``scorer`` on ``data``, beside two baselines on the same texts.

    ``data.label_names`` must name negative, neutral and positive (in any order and spelling, e.g.
    MELD's ``negative``/``neutral``/``positive``). Baselines: ``always_binary`` never says neutral
    (the band collapsed to 0.5, or for a three-label model the larger of negative and positive);
    ``always_neutral`` says neutral for everything.

    Example::

        data = read_labelled("meld/dev_sent_emo.csv", text_column="Utterance", label_column="Sentiment",
                             label_names=["negative", "neutral", "positive"])
        evaluate_three_way(ThreeWayScorer(Engine.load()), data)["macro_f1"]
    """
    mapping = three_way_ids(data.label_names)
    if sorted(mapping) != [NEGATIVE, NEUTRAL, POSITIVE]:
        raise InvalidInputError(f"data labels {data.label_names} must name negative, neutral and positive")
    true = [mapping[label] for label in data.labels]
    matrix, _, _ = scorer.matrix(data.texts)
    predicted = scorer.labels_of(matrix)
    sentiment = matrix[:, POSITIVE] - matrix[:, NEGATIVE]
    # sign(2p - 1) is exactly the 0.5 band for a binary model.
    binary = np.where(sentiment < 0, NEGATIVE, np.where(sentiment > 0, POSITIVE, NEUTRAL))
    labels = list(THREE_WAY_LABELS)
    report = classification_report(true, predicted.tolist(), labels)
    report.update(
        {
            "examples": len(data),
            "band": scorer.band.to_dict() if scorer.binary else None,
            "baselines": {
                "always_binary": classification_report(true, binary.tolist(), labels),
                "always_neutral": classification_report(true, [NEUTRAL] * len(true), labels),
            },
        }
    )
    return report
