from __future__ import annotations

import json

import pytest

from moodline import Engine, InvalidInputError
from moodline.inference.sources import SST2_MODEL_NAME
from moodline.inference.three_way import ThreeWayScorer
from moodline.transcripts import Transcript, parse_transcript, read_transcript
from moodline.transcripts.insights import ConversationInsights, analyse

from .conftest import sample_path

SOURING = """\
Alice: I love this product, it is wonderful.
Bob: Glad to hear it.
Alice: The support team was fantastic and so helpful.
Bob: Thanks for telling us.
Alice: But the latest update is terrible and broke everything.
Bob: Oh no.
Alice: This is awful. I am furious and I want a refund.
"""


@pytest.fixture(scope="module")
def scorer() -> ThreeWayScorer:
    # The insight rules are tested on the binary model with the band, whose scores for these
    # transcripts are known; the default model's quality is tested in tests/inference/test_bundled_model.py.
    return ThreeWayScorer(Engine.load(SST2_MODEL_NAME))


@pytest.fixture(scope="module")
def call() -> Transcript:
    return read_transcript(sample_path("zoom_customer_call.vtt"))


@pytest.fixture(scope="module")
def call_insights(call: Transcript, scorer: ThreeWayScorer) -> ConversationInsights:
    return analyse(call, scorer, window=3)


def test_per_speaker_counts_match_the_transcript(call: Transcript, call_insights: ConversationInsights) -> None:
    turns, utterances = call.turns(), call.utterances()
    assert [s.speaker for s in call_insights.speakers] == call.speakers()
    assert len(call.speakers()) >= 3
    for speaker in call_insights.speakers:
        assert speaker.turns == sum(t.speaker == speaker.speaker for t in turns)
        assert speaker.utterances == sum(u.speaker == speaker.speaker for u in utterances)
        assert speaker.words == sum(len(t.text.split()) for t in turns if t.speaker == speaker.speaker)
        assert sum(speaker.label_shares.values()) == pytest.approx(1.0)
    summary = call_insights.summary
    assert (summary.utterances, summary.turns, summary.speakers) == (len(utterances), len(turns), len(call.speakers()))
    assert summary.talk_share_basis == "time"
    assert summary.duration == pytest.approx(turns[-1].end - turns[0].start)  # type: ignore[operator]


def test_talk_shares_sum_to_one(call_insights: ConversationInsights) -> None:
    assert sum(s.talk_share for s in call_insights.speakers) == pytest.approx(1.0)
    assert all(s.talk_time is not None and s.talk_time > 0 for s in call_insights.speakers)


def test_talk_shares_fall_back_to_words(scorer: ThreeWayScorer) -> None:
    insights = analyse(parse_transcript(SOURING, format="plain"), scorer)
    assert insights.summary.talk_share_basis == "words"
    words = {s.speaker: s.words for s in insights.speakers}
    total = sum(words.values())
    for speaker in insights.speakers:
        assert speaker.talk_time is None
        assert speaker.talk_share == pytest.approx(words[speaker.speaker] / total)


def test_rolling_averages_have_the_right_length(call_insights: ConversationInsights) -> None:
    timeline = call_insights.timeline
    assert len(timeline.overall) == len(call_insights.utterances)
    first = call_insights.utterances[0].sentiment
    assert timeline.overall[0] == pytest.approx(first)
    last_three = [u.sentiment for u in call_insights.utterances[-3:]]
    assert timeline.overall[-1] == pytest.approx(sum(last_three) / 3)
    for speaker in call_insights.speakers:
        series = timeline.per_speaker[speaker.speaker]
        assert len(series.values) == len(series.positions) == speaker.utterances
        assert all(call_insights.utterances[p].speaker == speaker.speaker for p in series.positions)


def test_turning_points_and_moments_reference_real_utterances(call_insights: ConversationInsights) -> None:
    by_position = {u.position: u for u in call_insights.utterances}
    assert call_insights.turning_points
    for point in call_insights.turning_points:
        utterance = by_position[point.position]
        assert (point.speaker, point.quote, point.start) == (utterance.speaker, utterance.text, utterance.start)
        assert point.after == pytest.approx(call_insights.timeline.overall[point.position])
    assert 0 < len(call_insights.most_negative) <= 3 and 0 < len(call_insights.most_positive) <= 3
    for moment in call_insights.most_negative + call_insights.most_positive:
        utterance = by_position[moment.position]
        assert (moment.speaker, moment.quote, moment.start, moment.sentiment) == (
            utterance.speaker,
            utterance.text,
            utterance.start,
            utterance.sentiment,
        )
    negatives = [m.sentiment for m in call_insights.most_negative]
    assert negatives == sorted(negatives) and negatives[0] == min(u.sentiment for u in call_insights.utterances)
    assert all(m.sentiment < 0 for m in call_insights.most_negative)
    assert all(m.sentiment > 0 for m in call_insights.most_positive)


def test_to_dict_is_json_serialisable(call_insights: ConversationInsights) -> None:
    data = json.loads(json.dumps(call_insights.to_dict()))
    assert set(data) == {
        "source",
        "format",
        "window",
        "summary",
        "speakers",
        "utterances",
        "timeline",
        "turning_points",
        "most_negative",
        "most_positive",
        "conversation_metrics",
        "segments",
        "emotions",
    }
    assert data["emotions"] is None  # analysed without an emotion scorer
    assert set(data["conversation_metrics"]) == {"timed", "reason", "call", "speakers"}
    assert data["window"] == 3
    assert set(data["speakers"][0]["trajectory"]) == {"first_third", "last_third", "delta"}


def test_a_souring_speaker_is_detected(scorer: ThreeWayScorer) -> None:
    insights = analyse(parse_transcript(SOURING, format="plain"), scorer, window=2)
    alice = next(s for s in insights.speakers if s.speaker == "Alice")
    assert alice.trajectory.first_third > 0 > alice.trajectory.last_third
    assert alice.trajectory.delta < 0
    assert insights.turning_points
    first = insights.turning_points[0]
    assert first.speaker == "Alice"
    assert first.quote.startswith("But the latest update is terrible")
    assert "sign_change" in first.kinds and first.change < 0


def test_bad_options_are_rejected(call: Transcript, scorer: ThreeWayScorer) -> None:
    with pytest.raises(InvalidInputError, match="window"):
        analyse(call, scorer, window=0)
    with pytest.raises(InvalidInputError, match="drop_threshold"):
        analyse(call, scorer, drop_threshold=0)
