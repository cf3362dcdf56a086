"""Conversation insights: how sentiment moves through a transcript, per speaker and over time.

Example::

    from moodline import Engine
    from moodline.inference.three_way import ThreeWayScorer
    from moodline.transcripts import read_transcript
    from moodline.transcripts.insights import analyse

    insights = analyse(read_transcript("call.vtt"), ThreeWayScorer(Engine.load()), window=5)
    insights.summary.mean_sentiment, insights.turning_points[0].quote

    emotions = EmotionScorer(Engine.load(EMOTION_MODEL_NAME))   # moodline.inference.emotions / .sources
    analyse(read_transcript("call.vtt"), ThreeWayScorer(Engine.load()), emotions=emotions).emotions.overall

Sentiment scores are signed, in ``[-1, 1]`` (see :mod:`moodline.inference.three_way`); labels are ``negative``,
``neutral`` or ``positive``. Times are seconds from the source, ``null`` where it has none.

JSON schema of :meth:`ConversationInsights.to_dict`::

    source            str     the transcript's source name
    format            str     the format it was read from
    window            int     utterances in each rolling average
    summary           object
        utterances, turns, speakers     int
        mean_sentiment                  float   mean over utterances
        label_shares                    {negative, neutral, positive: float}, summing to 1
        start, end, duration            float | null   first start, last end, end - start (seconds)
        talk_share_basis                "time" | "words"
    speakers          list, in order of first appearance, of
        speaker                         str
        turns, utterances, words        int
        talk_time                       float | null   seconds spoken (null when shares are by words)
        talk_share                      float   share of talk time, or of words; sums to 1 over speakers
        mean_sentiment                  float
        label_shares                    {negative, neutral, positive: float}
        trajectory                      {first_third, last_third, delta: float}   mean sentiment of the
                                        speaker's first and last third of utterances, and last - first
    utterances        list, in conversation order, of
        position, turn_index            int
        speaker, text, label            str
        start, end                      float | null
        sentiment                       float
        emotion                         str     top emotion (only when emotions were scored)
        emotion_score                   float   its probability (only when emotions were scored)
        emotions                        {emotion: float}   every emotion's probability, rounded to 4
                                        places (only when emotions were scored)
    timeline          object
        overall                         list[float], one per utterance: trailing rolling mean sentiment
        per_speaker                     {speaker: {positions: list[int], values: list[float]}}: the rolling
                                        mean over that speaker's own utterances, at their positions
    turning_points    list of
        position                        int     the utterance where the rolling overall sentiment turned
        kinds                           list of "sign_change" | "sharp_drop"
        before, after, change           float   rolling overall sentiment before, at, and after - before
        speaker, quote                  str
        start                           float | null
    most_negative, most_positive   lists (at most ``top`` each; only utterances below / above 0) of
        position                        int
        speaker, quote, label           str
        start, end                      float | null
        sentiment                       float
    conversation_metrics  object: how the call was held, from the transcript's own timings (exact
                          definitions in :mod:`moodline.transcripts.conversation_metrics`)
        timed                           bool    false when the transcript's times cannot be measured
        reason                          str | null   why not, in a sentence
        call                            {duration_seconds, talk_seconds, silence_share, interactivity:
                                        float | null; speaker_switches, turns, questions: int;
                                        interruptions: int | null}
        speakers                        {speaker: {talk_seconds, talk_share, words_per_minute,
                                        longest_monologue_seconds, mean_response_gap_seconds,
                                        median_response_gap_seconds: float | null; words, turns,
                                        questions: int; interruptions: int | null}}
    segments          list, strongest first, of stretches where the mood stayed negative or positive
                      (rules in :mod:`moodline.transcripts.segments`)
        kind                            "negative" | "positive"
        start, end                      float | null
        first_position, last_position   int
        utterances                      int
        speakers                        list[str]
        mean_sentiment, strength        float   strength = utterances * |mean_sentiment|
        quotes                          list of {position: int, speaker, text: str, sentiment: float,
                                        start: float | null}: the most extreme, in conversation order
    emotions          object, or null when emotions were not scored: ``labels``, ``overall`` shares,
                      ``speakers`` ({speaker: {shares, dominant, utterances}}) and ``timeline`` (shares
                      per window of utterances); the schema is in :mod:`moodline.transcripts.emotions`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError
from moodline.inference.emotions import EmotionPrediction, EmotionScorer
from moodline.inference.three_way import THREE_WAY_LABELS, ThreeWayPrediction, ThreeWayScorer
from moodline.transcripts.conversation_metrics import ConversationMetrics, conversation_metrics
from moodline.transcripts.emotions import EmotionSummary, summarise_emotions
from moodline.transcripts.model import Transcript, Turn, Utterance
from moodline.transcripts.segments import DEFAULT_SEGMENT_RULES, SegmentRules, SentimentSegment, find_segments

__all__ = [
    "ConversationInsights",
    "ConversationSummary",
    "KeyMoment",
    "RollingSeries",
    "SpeakerInsights",
    "Timeline",
    "Trajectory",
    "TurningPoint",
    "UtteranceSentiment",
    "analyse",
    "with_emotion",
]

DROP_THRESHOLD = 0.3
# Per-utterance emotion probabilities are rounded: seven of them per line would otherwise dominate the JSON.
EMOTION_DIGITS = 4
_UTTERANCE_EMOTION_KEYS = ("emotion", "emotion_score", "emotions")


@dataclass(frozen=True)
class UtteranceSentiment:
    position: int
    turn_index: int
    speaker: str
    text: str
    start: float | None
    end: float | None
    label: str
    sentiment: float
    emotion: str | None = None
    emotion_score: float | None = None
    emotions: dict[str, float] | None = None


@dataclass(frozen=True)
class Trajectory:
    first_third: float
    last_third: float
    delta: float


@dataclass(frozen=True)
class SpeakerInsights:
    speaker: str
    turns: int
    utterances: int
    words: int
    talk_time: float | None
    talk_share: float
    mean_sentiment: float
    label_shares: dict[str, float]
    trajectory: Trajectory


@dataclass(frozen=True)
class RollingSeries:
    positions: list[int]
    values: list[float]


@dataclass(frozen=True)
class Timeline:
    overall: list[float]
    per_speaker: dict[str, RollingSeries]


@dataclass(frozen=True)
class TurningPoint:
    position: int
    kinds: list[str]
    before: float
    after: float
    change: float
    speaker: str
    quote: str
    start: float | None


@dataclass(frozen=True)
class KeyMoment:
    position: int
    speaker: str
    quote: str
    label: str
    start: float | None
    end: float | None
    sentiment: float


@dataclass(frozen=True)
class ConversationSummary:
    utterances: int
    turns: int
    speakers: int
    mean_sentiment: float
    label_shares: dict[str, float]
    start: float | None
    end: float | None
    duration: float | None
    talk_share_basis: str


@dataclass(frozen=True)
class ConversationInsights:
    """Everything :func:`analyse` finds; ``to_dict()`` follows the schema in the module docstring."""

    source: str
    format: str
    window: int
    summary: ConversationSummary
    speakers: list[SpeakerInsights]
    utterances: list[UtteranceSentiment]
    timeline: Timeline
    turning_points: list[TurningPoint]
    most_negative: list[KeyMoment]
    most_positive: list[KeyMoment]
    conversation_metrics: ConversationMetrics
    segments: list[SentimentSegment]
    emotions: EmotionSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        if self.emotions is None:  # not scored: the per-utterance fields are absent, not null
            for utterance in result["utterances"]:
                for key in _UTTERANCE_EMOTION_KEYS:
                    del utterance[key]
        return result


def check_insight_options(*, window: int = 5, top: int = 3, drop_threshold: float = DROP_THRESHOLD) -> None:
    """Refuse options :func:`summarise` cannot use, before anything is scored."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidInputError(f"window must be a positive number of utterances, got {window!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise InvalidInputError(f"top must be a non-negative number of moments, got {top!r}")
    if not drop_threshold > 0:
        raise InvalidInputError(f"drop_threshold must be positive, got {drop_threshold!r}")


def utterances_to_score(transcript: Transcript, max_chars: int | None = 300) -> list[Utterance]:
    """The utterances whose sentiment :func:`summarise` needs (long turns split at sentences)."""
    pieces = transcript.utterances(max_chars=max_chars)
    if not pieces:
        raise InvalidInputError(f"{transcript.source}: the transcript has no utterances to analyse")
    return pieces


def analyse(
    transcript: Transcript,
    scorer: ThreeWayScorer,
    *,
    window: int = 5,
    max_chars: int | None = 300,
    drop_threshold: float = DROP_THRESHOLD,
    top: int = 3,
    segment_rules: SegmentRules = DEFAULT_SEGMENT_RULES,
    emotions: EmotionScorer | None = None,
) -> ConversationInsights:
    """Score every utterance of ``transcript`` with ``scorer`` (and ``emotions``, when given) and :func:`summarise` it.

    Each scorer makes one engine call for all the utterances. A server scores through its batcher and
    cache instead, then calls :func:`summarise` itself.

    Example::

        insights = analyse(transcript, ThreeWayScorer(Engine.load()))
        json.dumps(insights.to_dict())
    """
    check_insight_options(window=window, top=top, drop_threshold=drop_threshold)
    pieces = utterances_to_score(transcript, max_chars)
    texts = [u.text for u in pieces]
    predictions = scorer.score(texts)
    return summarise(
        transcript,
        pieces,
        predictions,
        window=window,
        drop_threshold=drop_threshold,
        top=top,
        segment_rules=segment_rules,
        emotions=emotions.score(texts) if emotions is not None else None,
    )


def summarise(
    transcript: Transcript,
    pieces: Sequence[Utterance],
    predictions: Sequence[ThreeWayPrediction],
    *,
    window: int = 5,
    drop_threshold: float = DROP_THRESHOLD,
    top: int = 3,
    segment_rules: SegmentRules = DEFAULT_SEGMENT_RULES,
    emotions: Sequence[EmotionPrediction] | None = None,
) -> ConversationInsights:
    """Sentiment per speaker and over time from ``transcript``'s utterances and their predictions; no scoring.

    ``emotions``, one per utterance when given, add each utterance's emotion and the ``emotions``
    summary (:mod:`moodline.transcripts.emotions`); without them ``emotions`` is ``None``.
    Rolling averages are trailing means over the last ``window`` utterances (fewer at the start). A
    turning point is an utterance where the rolling overall sentiment changes sign, or falls by more than
    ``drop_threshold`` from the previous utterance's value. ``conversation_metrics`` come from the
    transcript's timings alone; ``segments`` follow ``segment_rules`` (:mod:`moodline.transcripts.segments`).
    """
    check_insight_options(window=window, top=top, drop_threshold=drop_threshold)
    utterances = [
        UtteranceSentiment(u.position, u.turn_index, u.speaker, u.text, u.start, u.end, p.label, p.sentiment)
        for u, p in zip(pieces, predictions, strict=True)
    ]
    if emotions is not None:
        utterances = [with_emotion(u, e) for u, e in zip(utterances, emotions, strict=True)]
    turns = transcript.turns()
    sentiment = np.array([u.sentiment for u in utterances])
    overall = _rolling(sentiment, window)
    per_speaker = {}
    for name in transcript.speakers():
        positions = [u.position for u in utterances if u.speaker == name]
        per_speaker[name] = RollingSeries(positions, _rolling(sentiment[positions], window))
    return ConversationInsights(
        source=transcript.source,
        format=transcript.format,
        window=window,
        summary=_summary(utterances, turns),
        speakers=_speakers(transcript.speakers(), utterances, turns),
        utterances=utterances,
        timeline=Timeline(overall, per_speaker),
        turning_points=_turning_points(overall, list(pieces), drop_threshold),
        most_negative=[_moment(utterances[i]) for i in np.argsort(sentiment, kind="stable")[:top] if sentiment[i] < 0],
        most_positive=[_moment(utterances[i]) for i in np.argsort(-sentiment, kind="stable")[:top] if sentiment[i] > 0],
        conversation_metrics=conversation_metrics(transcript),
        segments=find_segments(utterances, segment_rules),
        emotions=summarise_emotions(utterances) if emotions is not None else None,
    )


def with_emotion(utterance: UtteranceSentiment, emotion: EmotionPrediction) -> UtteranceSentiment:
    """``utterance`` with its emotion: the top label, its probability and every emotion's, rounded."""
    rounded = {name: round(p, EMOTION_DIGITS) for name, p in emotion.scores.items()}
    return replace(utterance, emotion=emotion.label, emotion_score=emotion.score, emotions=rounded)


def _rolling(values: np.ndarray, window: int) -> list[float]:
    sums = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    means: np.ndarray = (sums[ends] - sums[starts]) / (ends - starts)
    return [float(v) for v in means]


def _shares(labels: Sequence[str]) -> dict[str, float]:
    return {name: sum(label == name for label in labels) / len(labels) for name in THREE_WAY_LABELS}


def _talk_times(turns: Sequence[Turn]) -> dict[str, float] | None:
    """Seconds spoken per speaker, or None unless every turn has a start and an end and some time passes."""
    if any(t.start is None or t.end is None for t in turns):
        return None
    times: dict[str, float] = {}
    for turn in turns:
        assert turn.start is not None and turn.end is not None
        times[turn.speaker] = times.get(turn.speaker, 0.0) + max(turn.end - turn.start, 0.0)
    return times if sum(times.values()) > 0 else None


def _speakers(
    names: Sequence[str], utterances: Sequence[UtteranceSentiment], turns: Sequence[Turn]
) -> list[SpeakerInsights]:
    words = {name: sum(len(t.text.split()) for t in turns if t.speaker == name) for name in names}
    times = _talk_times(turns)
    basis = times if times is not None else {name: float(count) for name, count in words.items()}
    total = sum(basis.values())
    result = []
    for name in names:
        own = [u for u in utterances if u.speaker == name]
        scores = [u.sentiment for u in own]
        third = max(1, round(len(own) / 3))
        first, last = float(np.mean(scores[:third])), float(np.mean(scores[-third:]))
        result.append(
            SpeakerInsights(
                speaker=name,
                turns=sum(t.speaker == name for t in turns),
                utterances=len(own),
                words=words[name],
                talk_time=times.get(name, 0.0) if times is not None else None,
                talk_share=basis.get(name, 0.0) / total if total else 1.0 / len(names),
                mean_sentiment=float(np.mean(scores)),
                label_shares=_shares([u.label for u in own]),
                trajectory=Trajectory(first, last, last - first),
            )
        )
    return result


def _summary(utterances: Sequence[UtteranceSentiment], turns: Sequence[Turn]) -> ConversationSummary:
    starts = [u.start for u in utterances if u.start is not None]
    ends = [u.end for u in utterances if u.end is not None]
    start = min(starts) if starts else None
    end = max(ends) if ends else None
    return ConversationSummary(
        utterances=len(utterances),
        turns=len(turns),
        speakers=len({u.speaker for u in utterances}),
        mean_sentiment=float(np.mean([u.sentiment for u in utterances])),
        label_shares=_shares([u.label for u in utterances]),
        start=start,
        end=end,
        duration=end - start if start is not None and end is not None else None,
        talk_share_basis="time" if _talk_times(turns) is not None else "words",
    )


def _turning_points(rolling: Sequence[float], pieces: Sequence[Utterance], drop_threshold: float) -> list[TurningPoint]:
    points = []
    for i in range(1, len(rolling)):
        before, after = rolling[i - 1], rolling[i]
        kinds = []
        if before * after < 0:
            kinds.append("sign_change")
        if after - before < -drop_threshold:
            kinds.append("sharp_drop")
        if kinds:
            u = pieces[i]
            points.append(TurningPoint(u.position, kinds, before, after, after - before, u.speaker, u.text, u.start))
    return points


def _moment(u: UtteranceSentiment) -> KeyMoment:
    return KeyMoment(u.position, u.speaker, u.text, u.label, u.start, u.end, u.sentiment)
