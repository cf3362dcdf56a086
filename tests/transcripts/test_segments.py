"""Sentiment segments on hand-made prediction sequences with known answers, and the rules' properties."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodline.core.errors import InvalidInputError
from moodline.inference.three_way import ThreeWayPrediction
from moodline.transcripts import parse_transcript
from moodline.transcripts.insights import summarise, utterances_to_score
from moodline.transcripts.segments import SegmentRules, SentimentSegment, find_segments


@dataclass(frozen=True)
class Said:
    position: int
    speaker: str
    text: str
    start: float | None
    end: float | None
    label: str
    sentiment: float


# (label, sentiment) per utterance; speakers alternate Ana, Ben; utterance i runs from 10 i to 10 i + 8 seconds.
SCRIPT = [
    ("positive", 0.8),  # 0  alone: too short
    ("neutral", 0.1),
    ("negative", -0.7),  # 2  a negative stretch 2..6: two neutral ones at 4, 5 are tolerated
    ("negative", -0.9),
    ("neutral", 0.0),
    ("neutral", -0.1),
    ("negative", -0.6),  # 6
    ("neutral", 0.2),
    ("neutral", 0.1),
    ("neutral", 0.0),  # three neutral ones in a row end the stretch
    ("negative", -0.8),  # 10 a second, short stretch 10..11
    ("negative", -0.5),
    ("positive", 0.9),  # 12 the opposite label ends it
    ("negative", -0.9),  # 13 alone
    ("positive", 0.6),  # 14 a positive stretch 14..17
    ("positive", 0.7),
    ("neutral", 0.3),
    ("positive", 0.9),  # 17
]


def said(script: list[tuple[str, float]] = SCRIPT, *, times: bool = True) -> list[Said]:
    return [
        Said(i, "Ana" if i % 2 == 0 else "Ben", f"utterance {i}", 10.0 * i if times else None,
             10.0 * i + 8 if times else None, label, sentiment)
        for i, (label, sentiment) in enumerate(script)
    ]  # fmt: skip


def test_the_stretches_of_the_script_strongest_first() -> None:
    negative_mean, positive_mean = (-0.7 - 0.9 + 0.0 - 0.1 - 0.6) / 5, (0.6 + 0.7 + 0.3 + 0.9) / 4
    positive, negative = find_segments(said())
    assert (positive.kind, positive.first_position, positive.last_position, positive.utterances) == (
        "positive",
        14,
        17,
        4,
    )
    assert positive.mean_sentiment == pytest.approx(positive_mean)
    assert positive.strength == pytest.approx(4 * positive_mean)
    assert (positive.start, positive.end) == (140.0, 178.0)
    assert [q.position for q in positive.quotes] == [14, 15, 17]  # the three highest, in conversation order
    assert (negative.kind, negative.first_position, negative.last_position) == ("negative", 2, 6)
    assert negative.mean_sentiment == pytest.approx(negative_mean)
    assert negative.strength == pytest.approx(5 * abs(negative_mean))
    assert negative.strength < positive.strength
    assert negative.speakers == ["Ana", "Ben"]
    assert [(q.position, q.speaker, q.sentiment, q.start) for q in negative.quotes] == [
        (2, "Ana", -0.7, 20.0),
        (3, "Ben", -0.9, 30.0),
        (6, "Ana", -0.6, 60.0),
    ]
    assert negative.quotes[0].text == "utterance 2"


def test_the_rules_change_what_is_found() -> None:
    def found(rules: SegmentRules) -> list[tuple[str, int, int]]:
        return [(s.kind, s.first_position, s.last_position) for s in find_segments(said(), rules)]

    # Two-utterance stretches count: 10..11 (strength 1.3) comes in after the two others.
    assert found(SegmentRules(min_utterances=2)) == [("positive", 14, 17), ("negative", 2, 6), ("negative", 10, 11)]
    # One neutral utterance tolerated: 2..3 is cut off by the two at 4, 5 and is too short on its own.
    assert found(SegmentRules(tolerance=1)) == [("positive", 14, 17)]
    # Three tolerated: 2..11 becomes one stretch, its mean (-0.33) still strong enough.
    assert found(SegmentRules(tolerance=3)) == [("negative", 2, 11), ("positive", 14, 17)]
    assert found(SegmentRules(min_mean=0.5)) == [("positive", 14, 17)]
    assert found(SegmentRules(top=1)) == [("positive", 14, 17)]
    assert found(SegmentRules(top=0)) == []


def test_quotes_are_at_most_three_and_untimed_segments_have_no_times() -> None:
    script = [("negative", -0.1 * k) for k in range(1, 7)]
    [segment] = find_segments(said(script, times=False), SegmentRules(min_mean=0.0))
    assert segment.start is None and segment.end is None
    assert [q.position for q in segment.quotes] == [3, 4, 5]


def test_summarise_puts_segments_and_metrics_into_the_insights() -> None:
    transcript = parse_transcript("".join(f"{'Ana' if i % 2 == 0 else 'Ben'}: line {i}.\n" for i in range(18)))
    pieces = utterances_to_score(transcript)
    predictions = [ThreeWayPrediction(label, sentiment) for label, sentiment in SCRIPT]
    insights = summarise(transcript, pieces, predictions, segment_rules=SegmentRules(top=1))
    [segment] = insights.segments
    assert (segment.kind, segment.first_position, segment.start) == ("positive", 14, None)
    assert [q.text for q in segment.quotes] == ["line 14.", "line 15.", "line 17."]
    as_dict = insights.to_dict()
    assert as_dict["segments"][0]["quotes"][0] == {
        "position": 14,
        "speaker": "Ana",
        "text": "line 14.",
        "sentiment": 0.6,
        "start": None,
    }
    assert as_dict["conversation_metrics"]["timed"] is False
    assert as_dict["conversation_metrics"]["speakers"]["Ben"]["turns"] == 9


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"tolerance": -1}, "tolerance"),
        ({"min_utterances": 0}, "min_utterances"),
        ({"top": True}, "top"),
        ({"min_mean": 1.5}, "min_mean"),
        ({"min_mean": "0.3"}, "min_mean"),
    ],
)
def test_bad_rules_are_refused_by_name(rules: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        SegmentRules(**rules)  # type: ignore[arg-type]


labels = st.sampled_from(("negative", "neutral", "positive"))


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, float]]:
    chosen = draw(st.lists(labels, min_size=0, max_size=40))
    ranges = {"negative": (-1.0, -0.2), "neutral": (-0.3, 0.3), "positive": (0.2, 1.0)}
    return [(label, draw(st.floats(*ranges[label]))) for label in chosen]


def _violations(items: list[Said], segment: SentimentSegment, tolerance: int) -> list[str]:
    kind = segment.kind
    opposite = "positive" if kind == "negative" else "negative"
    stretch = items[segment.first_position : segment.last_position + 1]
    problems = []
    if stretch[0].label != kind or stretch[-1].label != kind:
        problems.append("does not start and end on its kind")
    if any(u.label == opposite for u in stretch):
        problems.append("holds the opposite label")
    run = 0
    for u in stretch:
        run = run + 1 if u.label != kind else 0
        if run > tolerance:
            problems.append("bridges too many neutral utterances")
    # Maximal: the nearest utterance of its kind outside it could not have joined it.
    for step, edge in ((-1, segment.first_position), (1, segment.last_position)):
        between = 0
        index = edge + step
        while 0 <= index < len(items) and items[index].label == "neutral":
            between += 1
            index += step
        if 0 <= index < len(items) and items[index].label == kind and between <= tolerance:
            problems.append("could be extended")
    return problems


@settings(max_examples=300, deadline=None)
@given(scripts(), st.integers(0, 3), st.integers(1, 4), st.floats(0.0, 0.8))
def test_every_segment_follows_the_rules(
    script: list[tuple[str, float]], tolerance: int, least: int, mean: float
) -> None:
    items = said(script)
    rules = SegmentRules(tolerance=tolerance, min_utterances=least, min_mean=mean, top=100)
    segments = find_segments(items, rules)
    assert [s.strength for s in segments] == sorted((s.strength for s in segments), reverse=True)
    for segment in segments:
        assert _violations(items, segment, tolerance) == []
        values = [u.sentiment for u in items[segment.first_position : segment.last_position + 1]]
        assert segment.utterances == len(values) >= least
        assert segment.mean_sentiment == pytest.approx(sum(values) / len(values))
        assert abs(segment.mean_sentiment) >= mean - 1e-12
        assert 1 <= len(segment.quotes) <= 3
    for kind in ("negative", "positive"):
        spans = sorted((s.first_position, s.last_position) for s in segments if s.kind == kind)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))  # no overlap


@settings(max_examples=200, deadline=None)
@given(scripts(), st.integers(0, 3))
def test_with_no_minimum_every_labelled_utterance_is_in_exactly_one_segment(
    script: list[tuple[str, float]], tolerance: int
) -> None:
    # Neutral utterances at exactly 0 cannot pull a stretch's mean across zero, so none is dropped.
    items = said([(label, 0.0 if label == "neutral" else value) for label, value in script])
    segments = find_segments(items, SegmentRules(tolerance=tolerance, min_utterances=1, min_mean=0.0, top=1000))
    for kind in ("negative", "positive"):
        covered = sorted(p for s in segments if s.kind == kind for p in range(s.first_position, s.last_position + 1))
        labelled = [u.position for u in items if u.label == kind]
        assert set(labelled) <= set(covered) and len(covered) == len(set(covered))


def test_thousands_of_utterances_are_all_cut() -> None:
    # How fast is for benchmarks/transcripts.py; here, that a long call is cut completely and right.
    cycle = [("negative", -0.8), ("neutral", 0.0), ("negative", -0.6), ("positive", 0.7), ("positive", 0.9)]
    items = said(cycle * 4000)
    segments = find_segments(items, SegmentRules(min_utterances=2, min_mean=0.0, top=50_000))
    assert len(segments) == 2 * 4000
