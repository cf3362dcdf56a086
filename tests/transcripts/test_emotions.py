"""Emotions in the insights, on the tiny seven-label model: shapes, shares, the timeline, the off switch."""

from __future__ import annotations

import json

import pytest

from moodline import Engine
from moodline.inference.emotions import EMOTION_LABELS, EmotionScorer
from moodline.inference.three_way import ThreeWayScorer
from moodline.transcripts import Transcript, read_transcript
from moodline.transcripts.collection import CallCollection
from moodline.transcripts.emotions import EMOTION_TIMELINE_WINDOWS, dominant_emotion, summarise_emotions
from moodline.transcripts.insights import analyse

from .conftest import sample_path


@pytest.fixture(scope="module")
def call() -> Transcript:
    return read_transcript(sample_path("zoom_customer_call.vtt"))


@pytest.fixture(scope="module")
def with_emotions(call: Transcript, tiny_engine: Engine, tiny_emotion_engine: Engine) -> dict:
    return analyse(call, ThreeWayScorer(tiny_engine), emotions=EmotionScorer(tiny_emotion_engine)).to_dict()


def test_each_utterance_has_its_emotion_from_the_emotion_model(with_emotions, tiny_emotion_engine) -> None:
    utterances = with_emotions["utterances"]
    direct = EmotionScorer(tiny_emotion_engine).score([u["text"] for u in utterances])
    for utterance, expected in zip(utterances, direct, strict=True):
        assert utterance["emotion"] == expected.label
        assert utterance["emotion_score"] == pytest.approx(expected.score)
        assert list(utterance["emotions"]) == list(EMOTION_LABELS)
        assert sum(utterance["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
        assert utterance["emotions"][utterance["emotion"]] == max(utterance["emotions"].values())


def test_shares_sum_to_one_overall_per_speaker_and_per_window(with_emotions, call) -> None:
    emotions = with_emotions["emotions"]
    assert emotions["labels"] == list(EMOTION_LABELS)
    assert sum(emotions["overall"].values()) == pytest.approx(1.0)
    assert list(emotions["speakers"]) == call.speakers()
    labels = [u["emotion"] for u in with_emotions["utterances"]]
    for name, speaker in emotions["speakers"].items():
        own = [u["emotion"] for u in with_emotions["utterances"] if u["speaker"] == name]
        assert speaker["utterances"] == len(own)
        assert sum(speaker["shares"].values()) == pytest.approx(1.0)
        assert speaker["shares"][speaker["dominant"]] == max(speaker["shares"].values())
        for label in EMOTION_LABELS:
            assert speaker["shares"][label] == pytest.approx(own.count(label) / len(own))
    for label in EMOTION_LABELS:
        assert emotions["overall"][label] == pytest.approx(labels.count(label) / len(labels))


def test_timeline_windows_cover_the_call_in_order(with_emotions) -> None:
    timeline = with_emotions["emotions"]["timeline"]
    utterances = with_emotions["utterances"]
    assert len(timeline) == min(EMOTION_TIMELINE_WINDOWS, len(utterances))
    assert timeline[0]["first_position"] == 0 and timeline[-1]["last_position"] == len(utterances) - 1
    assert sum(w["utterances"] for w in timeline) == len(utterances)
    for before, after in zip(timeline, timeline[1:], strict=False):
        assert after["first_position"] == before["last_position"] + 1
    for window in timeline:
        assert sum(window["shares"].values()) == pytest.approx(1.0)
        assert window["start"] is not None and window["end"] >= window["start"]


def test_a_long_call_still_has_at_most_twenty_windows() -> None:
    from moodline.transcripts.insights import UtteranceSentiment

    said = [
        UtteranceSentiment(i, i, "AB"[i % 2], "x", None, None, "neutral", 0.0, EMOTION_LABELS[i % 7], 0.5, None)
        for i in range(1001)
    ]
    summary = summarise_emotions(said)
    assert len(summary.timeline) == EMOTION_TIMELINE_WINDOWS
    assert {w.utterances for w in summary.timeline} == {50, 51}
    assert summary.timeline[0].start is None
    assert summary.speakers["A"].utterances == 501


def test_dominant_ties_go_to_the_emotion_listed_first() -> None:
    shares = dict.fromkeys(EMOTION_LABELS, 0.0) | {"anger": 0.5, "sadness": 0.5}
    assert dominant_emotion(shares) == "anger"


def test_without_emotions_the_key_is_null_and_utterances_have_no_emotion_fields(call, tiny_engine) -> None:
    insights = analyse(call, ThreeWayScorer(tiny_engine)).to_dict()
    assert insights["emotions"] is None
    assert not any({"emotion", "emotion_score", "emotions"} & set(u) for u in insights["utterances"])
    json.dumps(insights)


def test_emotions_leave_the_sentiment_untouched(call, tiny_engine, with_emotions) -> None:
    plain = analyse(call, ThreeWayScorer(tiny_engine)).to_dict()
    for key in ("summary", "speakers", "timeline", "turning_points", "segments", "conversation_metrics"):
        assert plain[key] == with_emotions[key]
    strip = [{k: v for k, v in u.items() if not k.startswith("emotion")} for u in with_emotions["utterances"]]
    assert strip == plain["utterances"]


def test_the_collection_averages_emotion_shares_per_speaker_by_utterances(with_emotions) -> None:
    calls = CallCollection()
    calls.add(with_emotions, file="one.vtt")
    calls.add(with_emotions, file="two.vtt")
    summary = calls.summary()
    assert [f"emotion_{e}" for e in EMOTION_LABELS] == summary["columns"]["speakers"][-len(EMOTION_LABELS) :]
    for row in summary["speakers"]:
        shares = with_emotions["emotions"]["speakers"][row["speaker"]]["shares"]
        for emotion in EMOTION_LABELS:
            assert row[f"emotion_{emotion}"] == pytest.approx(shares[emotion])


HOSTILE = (
    '[{"speaker": "<b>=Sam</b>", "text": "=1+2 is what I said, I love it."}, {"speaker": "Alex", "text": "Awful."}]'
)


@pytest.fixture(scope="module")
def hostile(tiny_engine: Engine, tiny_emotion_engine: Engine) -> dict:
    from moodline.transcripts import parse_transcript

    call = parse_transcript(HOSTILE, format="json", source="hostile.json")
    return analyse(call, ThreeWayScorer(tiny_engine), emotions=EmotionScorer(tiny_emotion_engine)).to_dict()


def test_csv_has_emotion_columns_before_the_text_only_when_scored(with_emotions, call, tiny_engine, hostile) -> None:
    import csv
    import io

    from moodline.transcripts.report import CSV_COLUMNS, render_csv

    rows = list(csv.DictReader(io.StringIO(render_csv(with_emotions), newline="")))
    assert list(rows[0]) == [*CSV_COLUMNS[:-1], "emotion", "emotion_score", "text"]
    for row, utterance in zip(rows, with_emotions["utterances"], strict=True):
        assert row["emotion"] == utterance["emotion"]
        assert float(row["emotion_score"]) == pytest.approx(utterance["emotion_score"])
    plain = analyse(call, ThreeWayScorer(tiny_engine)).to_dict()
    assert next(csv.reader(io.StringIO(render_csv(plain)))) == list(CSV_COLUMNS)
    hostile_rows = list(csv.DictReader(io.StringIO(render_csv(hostile), newline="")))
    assert hostile_rows[0]["text"] == "'=1+2 is what I said, I love it."
    assert hostile_rows[0]["emotion"] == hostile["utterances"][0]["emotion"]


def test_html_shows_emotions_per_speaker_over_time_and_per_utterance(with_emotions, hostile) -> None:
    import re

    from moodline.transcripts.report import render_html

    page = render_html(with_emotions)
    table = page[page.index('<table id="speaker-emotions">') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 1 + len(with_emotions["emotions"]["speakers"])
    assert len(re.findall(r"<rect ", page)) >= len(with_emotions["emotions"]["timeline"])
    utterances = page[page.index('<table id="utterances">') :]
    assert utterances.count("<tr>") == 1 + len(with_emotions["utterances"])
    for utterance in with_emotions["utterances"]:
        assert f"<td>{utterance['emotion']} {utterance['emotion_score']:.2f}</td>" in utterances
    hostile_page = render_html(hostile)
    assert "<b>=Sam</b>" not in hostile_page and "&lt;b&gt;=Sam&lt;/b&gt;" in hostile_page


def test_html_without_emotions_says_so_and_has_no_emotion_column(call, tiny_engine) -> None:
    from moodline.transcripts.report import render_html

    page = render_html(analyse(call, ThreeWayScorer(tiny_engine)).to_dict())
    assert "Emotions were not scored" in page and 'id="speaker-emotions"' not in page
    assert "<th>emotion</th>" not in page


def test_pngs_include_emotions_only_when_scored(with_emotions, call, tiny_engine, tmp_path) -> None:
    from moodline.transcripts.report import write_pngs

    written = write_pngs(with_emotions, tmp_path / "with")
    assert [p.name for p in written] == ["timeline.png", "speakers.png", "emotions.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    plain = write_pngs(analyse(call, ThreeWayScorer(tiny_engine)).to_dict(), tmp_path / "without")
    assert [p.name for p in plain] == ["timeline.png", "speakers.png"]
    assert not (tmp_path / "without" / "emotions.png").exists()


def test_the_dashboard_draws_each_speakers_emotion_shares(with_emotions, call, tiny_engine) -> None:
    import re

    from moodline.transcripts.collection_report import render_dashboard

    calls = CallCollection()
    calls.add(with_emotions, file="one.vtt")
    page = render_dashboard(calls.summary())
    chart = page[page.index('<svg id="chart-speaker-emotions"') :]
    chart = chart[: chart.index("</svg>")]
    for name, speaker in with_emotions["emotions"]["speakers"].items():
        bar = chart[chart.index(f'<g class="bar" data-label="{name}">') :]
        bar = bar[: bar.index("</g>")]
        found = dict(re.findall(r'data-emotion="(\w+)" data-value="([^"]*)"', bar))
        assert list(found) == list(EMOTION_LABELS)
        for emotion, value in found.items():
            assert float(value) == pytest.approx(speaker["shares"][emotion])
    plain = CallCollection()
    plain.add(analyse(call, ThreeWayScorer(tiny_engine)).to_dict(), file="one.vtt")
    assert "chart-speaker-emotions" not in render_dashboard(plain.summary())
