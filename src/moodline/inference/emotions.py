"""Seven emotions per text (joy, anger, sadness, fear, disgust, surprise, neutral) from an emotion model.

The emotion model is a second classifier beside the sentiment one (the shipped
``moodline-emotions-minilm-l6`` by default, loaded like any model by :meth:`Engine.load`). Its labels
are matched to :data:`EMOTION_LABELS` by name, ignoring case, so a model whose ids come in another
order (or spell ``Joy`` capitalised) reads the same; a model with any other label set is refused.

Example::

    from moodline import Engine
    from moodline.inference.emotions import EmotionScorer
    from moodline.inference.sources import EMOTION_MODEL_NAME

    scorer = EmotionScorer(Engine.load(EMOTION_MODEL_NAME))
    scorer.score(["I can't believe you did that!"])[0].label   # 'surprise' or 'anger'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.inference.prediction import Prediction

__all__ = ["EMOTION_LABELS", "EmotionPrediction", "EmotionScorer", "emotion_columns"]

# The order every output shows them in: the reading order, not the model's id order, with
# neutral last so that stacked charts put the emotions first.
EMOTION_LABELS: tuple[str, ...] = ("joy", "surprise", "anger", "sadness", "fear", "disgust", "neutral")


@dataclass(frozen=True)
class EmotionPrediction:
    """One text's emotion: the top ``label``, its probability ``score`` and every emotion's ``scores``."""

    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def emotion_columns(label_names: Sequence[str]) -> list[int]:
    """For each of ``EMOTION_LABELS``, the column of ``label_names`` (a model's labels) that holds it.

    Raises :class:`InvalidInputError` naming the labels when they are not exactly the seven emotions.
    """
    lowered = [str(name).strip().lower() for name in label_names]
    if sorted(lowered) != sorted(EMOTION_LABELS):
        raise InvalidInputError(
            f"an emotion model needs exactly the labels {', '.join(EMOTION_LABELS)}; this one has {list(label_names)}"
        )
    return [lowered.index(name) for name in EMOTION_LABELS]


class EmotionScorer:
    """Emotions from ``engine``, whose labels must be the seven of :data:`EMOTION_LABELS` (any order or case)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._columns = emotion_columns(engine.labels)

    def score(self, texts: Sequence[str]) -> list[EmotionPrediction]:
        """Emotion predictions for ``texts``, in input order: one engine call for the whole list."""
        probabilities, _, _ = self.engine.probabilities(texts)
        return self._predictions(probabilities[:, self._columns])

    def from_predictions(self, predictions: Sequence[Prediction]) -> list[EmotionPrediction]:
        """Emotion predictions from the engine's own (e.g. served from a cache or a batch)."""
        labels = self.engine.labels
        probabilities = np.array([[p.scores[label] for label in labels] for p in predictions], dtype=np.float64)
        return self._predictions(probabilities.reshape(len(predictions), len(labels))[:, self._columns])

    @staticmethod
    def _predictions(matrix: np.ndarray) -> list[EmotionPrediction]:
        """Rows of probabilities in :data:`EMOTION_LABELS` order -> predictions; ties go to the earlier emotion."""
        result = []
        for row in matrix:
            best = int(row.argmax())
            result.append(
                EmotionPrediction(
                    label=EMOTION_LABELS[best],
                    score=float(row[best]),
                    scores={name: float(p) for name, p in zip(EMOTION_LABELS, row, strict=True)},
                )
            )
        return result
