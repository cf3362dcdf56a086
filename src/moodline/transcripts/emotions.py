"""Emotions across a conversation: overall, per speaker and over time, from each utterance's top emotion.

A share is the fraction of utterances whose top emotion is that one (as the sentiment ``label_shares``
are), so each set of shares sums to 1. The timeline cuts the conversation into at most
:data:`EMOTION_TIMELINE_WINDOWS` consecutive windows of (nearly) equal numbers of utterances, and gives
each window's shares: a call of any length draws as the same number of stacked bars.

JSON (``ConversationInsights.to_dict()["emotions"]``)::

    labels      list[str]   the emotions, in the order every share lists them
    overall     {emotion: float}                      shares over the whole call
    speakers    {speaker: {shares: {emotion: float}, dominant: str, utterances: int}}
    timeline    list, in conversation order, of
        first_position, last_position, utterances   int
        start, end                                  float | null   the window's first start and last end
        shares                                      {emotion: float}

Example::

    summary = summarise_emotions(scored_utterances)
    summary.speakers["Dana"].dominant   # 'neutral'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from moodline.inference.emotions import EMOTION_LABELS

__all__ = ["EMOTION_TIMELINE_WINDOWS", "EmotionSummary", "EmotionWindow", "SpeakerEmotions", "summarise_emotions"]

EMOTION_TIMELINE_WINDOWS = 20


class EmotionalUtterance(Protocol):
    """What the emotion summary needs of a scored utterance (``UtteranceSentiment`` in the insights is one)."""

    @property
    def position(self) -> int: ...
    @property
    def speaker(self) -> str: ...
    @property
    def start(self) -> float | None: ...
    @property
    def end(self) -> float | None: ...
    @property
    def emotion(self) -> str | None: ...


@dataclass(frozen=True)
class SpeakerEmotions:
    shares: dict[str, float]
    dominant: str
    utterances: int


@dataclass(frozen=True)
class EmotionWindow:
    first_position: int
    last_position: int
    utterances: int
    start: float | None
    end: float | None
    shares: dict[str, float]


@dataclass(frozen=True)
class EmotionSummary:
    labels: list[str]
    overall: dict[str, float]
    speakers: dict[str, SpeakerEmotions]
    timeline: list[EmotionWindow]


def emotion_shares(labels: Sequence[str]) -> dict[str, float]:
    """The share of each emotion among ``labels`` (every emotion listed, 0.0 where absent); empty gives all 0."""
    total = len(labels)
    return {name: (sum(label == name for label in labels) / total if total else 0.0) for name in EMOTION_LABELS}


def dominant_emotion(shares: dict[str, float]) -> str:
    """The emotion with the largest share; a tie goes to the one listed first in :data:`EMOTION_LABELS`."""
    return max(EMOTION_LABELS, key=lambda name: (shares[name], -EMOTION_LABELS.index(name)))


def summarise_emotions(
    utterances: Sequence[EmotionalUtterance], windows: int = EMOTION_TIMELINE_WINDOWS
) -> EmotionSummary:
    """Shares overall, per speaker (in order of first appearance) and per window of ``utterances``.

    Every utterance must carry an ``emotion`` (the scorer's top label).
    """
    labels: list[str] = []
    for u in utterances:
        if u.emotion is None:
            raise ValueError(f"utterance {u.position} has no emotion; score it before summarising emotions")
        labels.append(u.emotion)
    speakers: dict[str, list[str]] = {}
    for u, label in zip(utterances, labels, strict=True):
        speakers.setdefault(u.speaker, []).append(label)
    per_speaker = {}
    for name, own in speakers.items():
        shares = emotion_shares(own)
        per_speaker[name] = SpeakerEmotions(shares, dominant_emotion(shares), len(own))
    timeline = []
    if utterances:
        for span in np.array_split(np.arange(len(utterances)), min(windows, len(utterances))):
            inside = [utterances[int(i)] for i in span]
            starts = [u.start for u in inside if u.start is not None]
            ends = [u.end for u in inside if u.end is not None]
            timeline.append(
                EmotionWindow(
                    first_position=inside[0].position,
                    last_position=inside[-1].position,
                    utterances=len(inside),
                    start=min(starts) if starts else None,
                    end=max(ends) if ends else None,
                    shares=emotion_shares([labels[int(i)] for i in span]),
                )
            )
    return EmotionSummary(list(EMOTION_LABELS), emotion_shares(labels), per_speaker, timeline)
