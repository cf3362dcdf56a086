"""Sentiment segments: the stretches of a conversation where the mood stayed negative, or stayed positive.

Segments are found over the utterances' three-way labels, in conversation order. A segment of kind
``negative`` (``positive`` alike):

- starts and ends on an utterance labelled negative;
- holds no utterance labelled positive, and between two consecutive negative utterances in it at most
  ``tolerance`` neutral ones;
- is maximal: no further utterance could join it under these rules;
- is kept only when it spans at least ``min_utterances`` utterances (its ends and all between) and the mean
  sentiment over all of them is at most ``-min_mean`` (at least ``+min_mean`` for a positive segment).

Its ``strength`` is ``utterances × |mean_sentiment|``. :func:`find_segments` returns the ``top`` strongest,
strongest first (the earlier first on a tie). A segment's ``quotes`` are its (up to :data:`SEGMENT_QUOTES`)
most extreme utterances of its own kind (lowest sentiment in a negative segment, highest in a positive
one), in conversation order. ``start`` is its first utterance's start and ``end`` its last utterance's end
(null where the transcript has no such time); ``speakers`` lists who spoke in it, in order of first word.

Finding them is one pass per kind, O(n) in the utterances.

Example::

    for segment in find_segments(insights.utterances, SegmentRules(tolerance=1, top=3)):
        print(segment.kind, segment.first_position, segment.last_position, segment.quotes[0].text)
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

from moodline.core.errors import InvalidInputError
from moodline.inference.three_way import THREE_WAY_LABELS

__all__ = [
    "DEFAULT_SEGMENT_RULES",
    "MAX_SEGMENTS",
    "MIN_SEGMENT_MEAN",
    "MIN_SEGMENT_UTTERANCES",
    "SEGMENT_QUOTES",
    "SEGMENT_TOLERANCE",
    "ScoredUtterance",
    "SegmentQuote",
    "SegmentRules",
    "SentimentSegment",
    "find_segments",
]

NEGATIVE_LABEL, NEUTRAL_LABEL, POSITIVE_LABEL = THREE_WAY_LABELS

# A listener's "okay" or "right" between two complaints does not end the complaint; three neutral
# utterances in a row are a change of subject more often than a pause in it.
SEGMENT_TOLERANCE = 2
# One negative remark is already a key moment (most_negative); a stretch is something the call dwelt
# on, so it spans at least three utterances, two or more of them of its own kind.
MIN_SEGMENT_UTTERANCES = 3
# A run of verdicts the model only just called negative, thinned out by neutral ones, is not a mood:
# this is about the mean of two clearly negative utterances (-0.6) and a neutral one between them.
MIN_SEGMENT_MEAN = 0.3
# A report shows a handful of stretches; the rest are weaker by construction.
MAX_SEGMENTS = 5
# The quotes a reader needs to see why the stretch counts, without reading it all.
SEGMENT_QUOTES = 3


class ScoredUtterance(Protocol):
    """What a segment needs of a scored utterance (``UtteranceSentiment`` in the insights is one)."""

    @property
    def position(self) -> int: ...
    @property
    def speaker(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float | None: ...
    @property
    def end(self) -> float | None: ...
    @property
    def label(self) -> str: ...
    @property
    def sentiment(self) -> float: ...


@dataclass(frozen=True)
class SegmentRules:
    """How tolerant a segment is, how long and how strong it must be, and how many to keep.

    Example::

        SegmentRules(tolerance=1, min_utterances=4, min_mean=0.4, top=3)
    """

    tolerance: int = SEGMENT_TOLERANCE
    min_utterances: int = MIN_SEGMENT_UTTERANCES
    min_mean: float = MIN_SEGMENT_MEAN
    top: int = MAX_SEGMENTS

    def __post_init__(self) -> None:
        for name, least in (("tolerance", 0), ("min_utterances", 1), ("top", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidInputError(f"segment {name} must be a whole number of at least {least}, got {value!r}")
        mean = self.min_mean
        if isinstance(mean, bool) or not isinstance(mean, int | float) or not 0.0 <= mean <= 1.0:
            raise InvalidInputError(f"segment min_mean must be a number between 0 and 1, got {mean!r}")


DEFAULT_SEGMENT_RULES = SegmentRules()


@dataclass(frozen=True)
class SegmentQuote:
    position: int
    speaker: str
    text: str
    sentiment: float
    start: float | None


@dataclass(frozen=True)
class SentimentSegment:
    kind: str
    start: float | None
    end: float | None
    first_position: int
    last_position: int
    utterances: int
    speakers: list[str]
    mean_sentiment: float
    strength: float
    quotes: list[SegmentQuote]


def find_segments(
    utterances: Sequence[ScoredUtterance], rules: SegmentRules = DEFAULT_SEGMENT_RULES
) -> list[SentimentSegment]:
    """The ``rules.top`` strongest negative and positive stretches of ``utterances`` (in conversation order).

    Example::

        [s.kind for s in find_segments(insights.utterances)]     # ['negative', 'positive']
    """
    sums = [0.0, *accumulate(u.sentiment for u in utterances)]
    found: list[SentimentSegment] = []
    for kind, opposite in ((NEGATIVE_LABEL, POSITIVE_LABEL), (POSITIVE_LABEL, NEGATIVE_LABEL)):
        first: int | None = None
        last = -1
        for index, utterance in enumerate(utterances):
            if utterance.label == kind:
                if first is not None and index - last - 1 > rules.tolerance:
                    found.extend(_segment(utterances, sums, kind, first, last, rules))
                    first = None
                if first is None:
                    first = index
                last = index
            elif utterance.label == opposite and first is not None:
                found.extend(_segment(utterances, sums, kind, first, last, rules))
                first = None
        if first is not None:
            found.extend(_segment(utterances, sums, kind, first, last, rules))
    found.sort(key=lambda s: (-s.strength, s.first_position))
    return found[: rules.top]


def _segment(
    utterances: Sequence[ScoredUtterance], sums: Sequence[float], kind: str, first: int, last: int, rules: SegmentRules
) -> list[SentimentSegment]:
    """The segment from ``first`` to ``last`` (indices, inclusive) as a one-item list, or none if too short or weak."""
    length = last - first + 1
    mean = (sums[last + 1] - sums[first]) / length
    sign = -1.0 if kind == NEGATIVE_LABEL else 1.0
    if length < rules.min_utterances or sign * mean < rules.min_mean:
        return []
    stretch = utterances[first : last + 1]
    own = [u for u in stretch if u.label == kind]
    extreme = heapq.nsmallest(SEGMENT_QUOTES, own, key=lambda u: (-sign * u.sentiment, u.position))
    quotes = [
        SegmentQuote(u.position, u.speaker, u.text, u.sentiment, u.start)
        for u in sorted(extreme, key=lambda u: u.position)
    ]
    return [
        SentimentSegment(
            kind=kind,
            start=stretch[0].start,
            end=stretch[-1].end,
            first_position=stretch[0].position,
            last_position=stretch[-1].position,
            utterances=length,
            speakers=list(dict.fromkeys(u.speaker for u in stretch)),
            mean_sentiment=mean,
            strength=length * abs(mean),
            quotes=quotes,
        )
    ]
