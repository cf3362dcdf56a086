"""Three-way sentiment (negative / neutral / positive) from a binary or a three-label model.

A binary model gives ``p = P(POSITIVE)``. A neutral band ``[low, high]`` turns it into three labels:
``p < low`` is negative, ``p > high`` is positive, anything in between is neutral. The signed
sentiment score is ``2p - 1`` in ``[-1, 1]``.

A model whose three labels contain ``neg``, ``neu`` and ``pos`` (case-insensitive) is used as it is:
the label is its top class and the sentiment score is ``P(pos) - P(neg)``; the band plays no part.

``ThreeWayPrediction.scores`` holds the model's own probabilities under the three-way names: all
three for a three-label model; for a binary model only ``negative`` (``1 - p``) and ``positive``
(``p``), because such a model has no neutral probability; its neutral verdict comes from the band.

Example::

    from moodline import Engine
    from moodline.inference.three_way import ThreeWayScorer
    scorer = ThreeWayScorer(Engine.load())
    scorer.score(["I love it", "The meeting is at ten"])[0].label   # 'positive'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.inference.prediction import Prediction

__all__ = [
    "BINARY_BAND",
    "DEFAULT_BAND",
    "NEGATIVE",
    "NEUTRAL",
    "POSITIVE",
    "THREE_WAY_LABELS",
    "ThreeWayBand",
    "ThreeWayPrediction",
    "ThreeWayScorer",
    "is_sentiment",
    "parse_band",
    "three_way_ids",
    "to_two_way",
]

THREE_WAY_LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
# Three-way label ids: the column order of ThreeWayScorer.matrix and the labels tune_band takes.
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
_MARKERS = ("neg", "neu", "pos")


@dataclass(frozen=True)
class ThreeWayBand:
    """The range of ``P(POSITIVE)`` a binary model's text must fall in (inclusive) to count as neutral."""

    low: float
    high: float

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"{name} must be a number between 0 and 1, got {value!r}")
        if self.low > self.high:
            raise InvalidInputError(f"low ({self.low}) must not be greater than high ({self.high})")

    def classify(self, p_positive: np.ndarray) -> np.ndarray:
        """Three-way label ids (0 negative, 1 neutral, 2 positive) for an array of ``P(POSITIVE)``."""
        p = np.asarray(p_positive, dtype=np.float64)
        return np.where(p < self.low, NEGATIVE, np.where(p > self.high, POSITIVE, NEUTRAL))

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


# From `tune_band` (step 0.01) on the MELD dev file (shared/data/meld/dev_sent_emo.csv, 1,109 utterances) with
# the bundled model, via scripts/tune_three_way.py: macro-F1 0.461 there, against 0.303 for the binary model alone
# (never neutral) and 0.198 for always-neutral. Tuned and scored on one file, 0.461 is optimistic: tuning on
# even-numbered dialogues and scoring odd ones (and the reverse) gives 0.426 pooled out of fold.
DEFAULT_BAND = ThreeWayBand(low=0.16, high=0.97)
# The band collapsed to a point: a plain binary classifier that never says neutral.
BINARY_BAND = ThreeWayBand(low=0.5, high=0.5)


@dataclass(frozen=True)
class ThreeWayPrediction:
    """One text's three-way sentiment: ``label``, signed ``sentiment`` in [-1, 1] and the model's ``scores``."""

    label: str
    sentiment: float
    scores: dict[str, float] = field(default_factory=dict)
    truncated: bool = False
    chunks: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_band(text: str) -> ThreeWayBand:
    """``"0.2,0.9"`` -> ``ThreeWayBand(0.2, 0.9)`` (for command lines and environment variables)."""
    parts = [part.strip() for part in text.split(",")]
    try:
        low, high = (float(part) for part in parts)
    except ValueError as exc:
        raise InvalidInputError(f"neutral band must be LOW,HIGH between 0 and 1, e.g. 0.2,0.9; got {text!r}") from exc
    return ThreeWayBand(low, high)


def three_way_ids(label_names: Sequence[str]) -> list[int]:
    """For each of ``label_names``, its three-way id (0 negative, 1 neutral, 2 positive), matched by name.

    Raises :class:`InvalidInputError` when a name matches none or several of neg/neu/pos, or two names
    match the same one.
    """
    ids: list[int] = []
    for name in label_names:
        hits = [i for i, marker in enumerate(_MARKERS) if marker in name.lower()]
        if len(hits) != 1:
            raise InvalidInputError(f"label {name!r} is not recognisably negative, neutral or positive")
        ids.append(hits[0])
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"labels {list(label_names)} name the same sentiment twice")
    return ids


def is_sentiment(label_names: Sequence[str]) -> bool:
    """Whether ``label_names`` are sentiment labels (each recognisably negative, neutral or positive)."""
    try:
        three_way_ids(label_names)
    except InvalidInputError:
        return False
    return True


def to_two_way(prediction: Prediction) -> Prediction:
    """The negative-or-positive answer of a prediction: those two probabilities renormalised to sum to 1.

    What a client that only knows two labels asks for (``two_way``): a three-label model's neutral
    share is spread over negative and positive in proportion, so the label is whichever of the two the
    model finds likelier. A binary prediction comes back unchanged.

    Example::

        to_two_way(Prediction("NEUTRAL", 0.6, {"NEGATIVE": 0.1, "NEUTRAL": 0.6, "POSITIVE": 0.3})).label  # 'POSITIVE'
    """
    names = list(prediction.scores)
    if len(names) == 2:
        return prediction
    kept = [name for name, marker in zip(names, three_way_ids(names), strict=True) if marker != NEUTRAL]
    total = sum(prediction.scores[name] for name in kept)
    scores = {name: prediction.scores[name] / total if total > 0 else 0.5 for name in kept}
    label = max(kept, key=scores.__getitem__)
    return Prediction(label, scores[label], scores, prediction.truncated, prediction.chunks)


class ThreeWayScorer:
    """Three-way sentiment from ``engine``: a binary model through ``band``, a three-label model directly."""

    def __init__(self, engine: Engine, band: ThreeWayBand = DEFAULT_BAND) -> None:
        labels = engine.labels
        self.engine = engine
        self.band = band
        if len(labels) == 3:
            self.binary = False
            self._columns = three_way_ids(labels)
        elif len(labels) == 2:
            ids = three_way_ids(labels)
            if sorted(ids) != [NEGATIVE, POSITIVE]:
                raise InvalidInputError(f"a binary model needs a negative and a positive label, got {labels}")
            self.binary = True
            self._columns = ids
        else:
            raise InvalidInputError(f"three-way sentiment needs a 2- or 3-label model, got labels {labels}")

    def matrix(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool], list[int]]:
        """Probabilities as ``(n, 3)`` columns negative, neutral, positive (neutral 0 for a binary model)."""
        probabilities, truncated, chunks = self.engine.probabilities(texts)
        return self.columns_of(probabilities), truncated, chunks

    def columns_of(self, probabilities: np.ndarray) -> np.ndarray:
        matrix = np.zeros((len(probabilities), 3), dtype=np.float64)
        for source, target in enumerate(self._columns):
            matrix[:, target] = probabilities[:, source]
        return matrix

    def labels_of(self, matrix: np.ndarray) -> np.ndarray:
        """Three-way label ids for rows of :meth:`matrix`: the band for a binary model, else the argmax."""
        if self.binary:
            return self.band.classify(matrix[:, POSITIVE])
        labels: np.ndarray = matrix.argmax(1)
        return labels

    def p_positive(self, texts: Sequence[str]) -> np.ndarray:
        """``P(POSITIVE)`` per text from a binary model: what :func:`moodline.training.three_way.tune_band` takes."""
        if not self.binary:
            raise InvalidInputError("p_positive needs a binary model; a three-label model has no band to tune")
        p: np.ndarray = self.matrix(texts)[0][:, POSITIVE]
        return p

    def score(self, texts: Sequence[str]) -> list[ThreeWayPrediction]:
        """Three-way predictions for ``texts``, in input order."""
        matrix, truncated, chunks = self.matrix(texts)
        return self._predictions(matrix, truncated, chunks)

    def from_predictions(self, predictions: Sequence[Prediction]) -> list[ThreeWayPrediction]:
        """Three-way versions of the engine's own predictions (e.g. served from a cache or a batch)."""
        probabilities = np.array([[p.scores[label] for label in self.engine.labels] for p in predictions])
        return self._predictions(
            self.columns_of(probabilities.reshape(len(predictions), -1)),
            [p.truncated for p in predictions],
            [p.chunks for p in predictions],
        )

    def _predictions(self, matrix: np.ndarray, truncated: list[bool], chunks: list[int]) -> list[ThreeWayPrediction]:
        names = [THREE_WAY_LABELS[i] for i in sorted(self._columns)]
        return [
            ThreeWayPrediction(
                label=THREE_WAY_LABELS[int(label)],
                sentiment=float(row[POSITIVE] - row[NEGATIVE]),
                scores={name: float(row[THREE_WAY_LABELS.index(name)]) for name in names},
                truncated=was_truncated,
                chunks=windows,
            )
            for row, label, was_truncated, windows in zip(
                matrix, self.labels_of(matrix), truncated, chunks, strict=True
            )
        ]
