"""The emotion scorer on the tiny seven-label model: label matching by name, one engine call, agreement."""

from __future__ import annotations

from typing import Any

import pytest

from moodline import Engine, InvalidInputError
from moodline.inference.emotions import EMOTION_LABELS, EmotionScorer, emotion_columns

TEXTS = ["I am so happy for you!", "That is disgusting.", "Where is the meeting?", "I miss her every day."]


def test_columns_match_labels_by_name_in_any_order_and_case() -> None:
    model_order = ["Anger", "DISGUST", "fear", "joy", "neutral", "sadness", "surprise"]
    columns = emotion_columns(model_order)
    assert [model_order[c].lower() for c in columns] == list(EMOTION_LABELS)


@pytest.mark.parametrize(
    "labels",
    [
        ["negative", "neutral", "positive"],
        ["anger", "disgust", "fear", "joy", "neutral", "sadness"],
        ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise", "love"],
        ["anger", "anger", "fear", "joy", "neutral", "sadness", "surprise"],
    ],
)
def test_a_model_without_exactly_the_seven_emotions_is_refused(labels: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="exactly the labels"):
        emotion_columns(labels)


def test_a_sentiment_model_is_refused_as_an_emotion_model(tiny_engine: Engine) -> None:
    with pytest.raises(InvalidInputError, match="emotion model"):
        EmotionScorer(tiny_engine)


def test_scores_are_the_engines_probabilities_under_emotion_names(tiny_emotion_engine: Engine) -> None:
    scorer = EmotionScorer(tiny_emotion_engine)
    predictions = scorer.score(TEXTS)
    engine_predictions = tiny_emotion_engine.predict(TEXTS)
    assert len(predictions) == len(TEXTS)
    for mine, theirs in zip(predictions, engine_predictions, strict=True):
        assert list(mine.scores) == list(EMOTION_LABELS)
        assert sum(mine.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert mine.label == theirs.label.lower() and mine.score == pytest.approx(theirs.score, abs=1e-6)
        for label, p in theirs.scores.items():
            assert mine.scores[label.lower()] == pytest.approx(p, abs=1e-6)
    # Served predictions (cache, batcher) give the same answers as scoring directly.
    assert scorer.from_predictions(engine_predictions) == predictions
    # The random tiny model still tells texts apart, so the test would notice columns mixed up.
    assert len({p.label for p in predictions}) > 1 or len({round(p.score, 3) for p in predictions}) > 1


def test_a_whole_list_is_one_engine_call(tiny_emotion_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = tiny_emotion_engine.probabilities

    def counting(texts: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(tiny_emotion_engine, "probabilities", counting)
    EmotionScorer(tiny_emotion_engine).score(TEXTS * 5)
    assert calls == [len(TEXTS) * 5]
