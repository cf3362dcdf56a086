"""Drift in the input text itself, with the words and examples that explain it.

A domain classifier learns to tell the latest window's texts from the reference window's, on TF-IDF
word features with logistic regression. Its cross-validated ROC-AUC says how separable the windows
are: about 0.5 when they come from one distribution, near 1 when they do not. The same classifier on
randomly relabelled windows (a permutation baseline, seeded) shows what chance reaches at these
sizes, so a small window's noise is not read as drift.

When the windows separate, the classifier's largest coefficients are the words that mark the latest
window (and those that vanished from it), and the latest texts it scores most unlike the reference
(out of fold, so not memorised) are the examples.

Example::

    drift = measure_text_drift(reference_texts, recent_texts)
    drift.auc, drift.permutation_p
    [w.word for w in drift.recent_words]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["TextDrift", "WordShift", "measure_text_drift"]

EXAMPLE_CHARS = 200
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"  # words of two letters or more: numbers and ids explain nothing


@dataclass(frozen=True)
class WordShift:
    """A word that separates the windows: its weight and the share of texts containing it in each."""

    word: str
    weight: float
    recent_share: float
    reference_share: float


@dataclass(frozen=True)
class TextDrift:
    auc: float
    permutation_aucs: list[float]
    permutation_p: float  # share of permutations (plus the observed one) reaching the observed AUC
    recent_words: list[WordShift]  # words that mark the latest window
    reference_words: list[WordShift]  # words that became rarer
    examples: list[str]  # latest texts most unlike the reference

    @property
    def permutation_max(self) -> float:
        return max(self.permutation_aucs) if self.permutation_aucs else 0.5

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "permutation_max": self.permutation_max}


def measure_text_drift(
    reference: Sequence[str],
    recent: Sequence[str],
    *,
    folds: int = 5,
    permutations: int = 10,
    top_words: int = 10,
    examples: int = 5,
    seed: int = 0,
) -> TextDrift:
    """Cross-validated ROC-AUC of a reference-vs-latest classifier, its permutation baseline and explanation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if min(len(reference), len(recent)) < folds:
        raise ValueError(f"each window needs at least {folds} texts (has {len(reference)} and {len(recent)})")
    texts = [*reference, *recent]
    target = np.array([0] * len(reference) + [1] * len(recent))
    vectorizer = TfidfVectorizer(token_pattern=TOKEN_PATTERN, min_df=2, max_features=20_000, sublinear_tf=True)
    try:
        features = vectorizer.fit_transform(texts)
    except ValueError:  # not one word appears twice: nothing for a classifier to see
        return TextDrift(0.5, [], 1.0, [], [], [])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)

    def out_of_fold(labels: np.ndarray) -> np.ndarray:
        scores: np.ndarray = cross_val_predict(
            _classifier(seed), features, labels, cv=splitter, method="decision_function"
        )
        return scores

    scores = out_of_fold(target)
    auc = float(roc_auc_score(target, scores))
    rng = np.random.default_rng(seed)
    baseline = [
        float(roc_auc_score(shuffled, out_of_fold(shuffled))) for shuffled in _shuffles(target, permutations, rng)
    ]
    p_value = (1 + sum(b >= auc for b in baseline)) / (1 + len(baseline))

    model = _classifier(seed).fit(features, target)
    weights = model.coef_[0]
    present = (features > 0).astype(np.float64)
    recent_shares = np.asarray(present[target == 1].mean(axis=0)).ravel()
    reference_shares = np.asarray(present[target == 0].mean(axis=0)).ravel()
    words = vectorizer.get_feature_names_out()

    def shift(index: int) -> WordShift:
        return WordShift(
            str(words[index]), float(weights[index]), float(recent_shares[index]), float(reference_shares[index])
        )

    order = np.argsort(weights)
    recent_words = [shift(i) for i in order[::-1][:top_words] if weights[i] > 0]
    reference_words = [shift(i) for i in order[:top_words] if weights[i] < 0]
    recent_scores = scores[len(reference) :]
    chosen: list[str] = []
    for index in np.argsort(-recent_scores, kind="stable"):
        text = " ".join(recent[index].split())
        text = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
        if text not in chosen:
            chosen.append(text)
        if len(chosen) == examples:
            break
    return TextDrift(auc, baseline, p_value, recent_words, reference_words, chosen)


def _classifier(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, solver="liblinear", max_iter=1000, random_state=seed)


def _shuffles(target: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.permutation(target) for _ in range(count)]
