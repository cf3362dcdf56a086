"""Aggregation across calls on hand-made insights with known answers: name matching, aliases, weights."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from moodline.core.errors import DataFileError, InvalidInputError
from moodline.transcripts.aliases import SpeakerAliases, read_aliases, speaker_key
from moodline.transcripts.collection import CALL_COLUMNS, CallCollection
from moodline.transcripts.collection_report import render_dashboard, render_table_csv


def speaker(
    name: str,
    utterances: int,
    sentiment: float,
    shares: tuple[float, float, float],
    *,
    talk_share: float = 0.5,
    talk_time: float | None = None,
    turns: int | None = None,
    words: int = 10,
) -> dict[str, Any]:
    negative, neutral, positive = shares
    return {
        "speaker": name,
        "turns": utterances if turns is None else turns,
        "utterances": utterances,
        "words": words,
        "talk_time": talk_time,
        "talk_share": talk_share,
        "mean_sentiment": sentiment,
        "label_shares": {"negative": negative, "neutral": neutral, "positive": positive},
        "trajectory": {"first_third": sentiment, "last_third": sentiment, "delta": 0.0},
    }


def call(*speakers: dict[str, Any], duration: float | None = 60.0, **extra: Any) -> dict[str, Any]:
    """A call's insights as ``to_dict`` gives them, its summary computed from its speakers."""
    n = sum(s["utterances"] for s in speakers)
    shares = {
        label: sum(s["label_shares"][label] * s["utterances"] for s in speakers) / n
        for label in ("negative", "neutral", "positive")
    }
    return {
        "source": "call",
        "format": "vtt",
        "window": 5,
        "summary": {
            "utterances": n,
            "turns": sum(s["turns"] for s in speakers),
            "speakers": len(speakers),
            "mean_sentiment": sum(s["mean_sentiment"] * s["utterances"] for s in speakers) / n,
            "label_shares": shares,
            "start": 0.0 if duration is not None else None,
            "end": duration,
            "duration": duration,
            "talk_share_basis": "time",
        },
        "speakers": list(speakers),
        "utterances": [],
        **extra,
    }


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["speaker"]: row for row in rows}


def test_speakers_match_ignoring_case_and_spacing_and_show_the_most_common_spelling():
    calls = CallCollection()
    calls.add(call(speaker("Dana Whitfield", 2, 0.5, (0, 0.5, 0.5), talk_share=0.6, talk_time=30.0)), file="a.vtt")
    calls.add(call(speaker(" dana\t whitfield", 6, -0.5, (0.5, 0.5, 0), talk_share=0.2, talk_time=10.0)), file="b")
    calls.add(call(speaker("Dana  Whitfield", 2, 0.5, (0, 0.5, 0.5), talk_share=0.6, talk_time=30.0)), file="c")
    [dana] = calls.speaker_rows()
    assert dana["speaker"] == "Dana Whitfield"  # two calls spell it so (after collapsing spaces), one does not
    assert dana["calls"] == 3 and dana["utterances"] == 10
    assert dana["mean_sentiment"] == pytest.approx((2 * 0.5 + 6 * -0.5 + 2 * 0.5) / 10)  # weighted: -0.1
    assert dana["mean_sentiment"] != pytest.approx((0.5 - 0.5 + 0.5) / 3)  # not the mean of the call means
    assert dana["negative_share"] == pytest.approx(0.3) and dana["positive_share"] == pytest.approx(0.2)
    assert dana["mean_talk_share"] == pytest.approx((0.6 + 0.2 + 0.6) / 3)
    assert dana["talk_seconds"] == pytest.approx(70.0)
    assert speaker_key("  Dana\tWHITFIELD ") == "dana whitfield"


def test_a_tie_between_spellings_keeps_the_first_seen():
    calls = CallCollection()
    calls.add(call(speaker("sam", 1, 0.0, (0, 1, 0))), file="a")
    calls.add(call(speaker("SAM", 1, 0.0, (0, 1, 0))), file="b")
    assert [row["speaker"] for row in calls.speaker_rows()] == ["sam"]


def test_aliases_merge_names_and_show_the_canonical_spelling():
    aliases = SpeakerAliases({"Agent 7": "Marcus Lee", "m. lee": "Marcus Lee"})
    calls = CallCollection(aliases)
    calls.add(call(speaker("agent  7", 4, 0.25, (0, 1, 0)), speaker("Caller", 4, -0.5, (1, 0, 0))), file="a")
    calls.add(call(speaker("AGENT 7", 2, 1.0, (0, 0, 1))), file="b")
    calls.add(call(speaker("M. Lee", 2, 0.0, (0, 1, 0)), speaker("marcus lee", 2, 0.0, (0, 1, 0))), file="c")
    rows = by_name(calls.speaker_rows())
    assert set(rows) == {"Marcus Lee", "Caller"}
    marcus = rows["Marcus Lee"]
    assert marcus["calls"] == 3  # the two spellings in call c are one speaker there
    assert marcus["utterances"] == 10
    assert marcus["mean_sentiment"] == pytest.approx((4 * 0.25 + 2 * 1.0) / 10)
    assert marcus["mean_talk_share"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)  # c: 0.5 + 0.5 for one speaker
    assert [row["speakers"] for row in calls.call_rows()] == [2, 1, 1]
    assert calls.call_rows()[2]["speaker_names"] == "Marcus Lee"
    assert calls.speaker_rows()[0]["speaker"] == "Marcus Lee"  # most calls first


def test_alias_files_in_three_formats_read_alike(tmp_path):
    (tmp_path / "a.toml").write_text('"Agent 7" = "Marcus Lee"\n"Dana W." = "Dana Whitfield"\n')
    (tmp_path / "b.toml").write_text('[aliases]\n"Agent 7" = "Marcus Lee"\n"Dana W." = "Dana Whitfield"\n')
    (tmp_path / "a.json").write_text(json.dumps({"Agent 7": "Marcus Lee", "Dana W.": "Dana Whitfield"}))
    (tmp_path / "a.csv").write_text("canonical,alias\nMarcus Lee,Agent 7\n\nDana Whitfield,Dana W.\n")
    for name in ("a.toml", "b.toml", "a.json", "a.csv"):
        aliases = read_aliases(tmp_path / name)
        assert aliases.resolve("agent 7") == ("marcus lee", "Marcus Lee"), name
        assert aliases.resolve(" DANA  w. ") == ("dana whitfield", "Dana Whitfield"), name
        assert aliases.resolve("dana whitfield") == ("dana whitfield", "Dana Whitfield"), name
        assert aliases.resolve("Someone") == ("someone", None), name


def test_bad_alias_files_are_refused_with_the_file_named(tmp_path):
    cases = {
        "chain.json": json.dumps({"A": "B", "B": "C"}),
        "two.json": json.dumps({"Sam": "Sam Lee", "SAM": "Sam Park"}),
        "list.json": json.dumps(["Sam", "Sam Lee"]),
        "number.json": json.dumps({"Sam": 7}),
        "broken.toml": "Sam = ",
        "header.csv": "from,to\nSam,Sam Lee\n",
        "aliases.yaml": "Sam: Sam Lee\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DataFileError) as caught:
            read_aliases(tmp_path / name)
        assert name in caught.value.message, caught.value.message
    with pytest.raises(DataFileError, match="no such file"):
        read_aliases(tmp_path / "missing.toml")
    with pytest.raises(InvalidInputError, match="non-empty"):
        SpeakerAliases({"  ": "Sam"})


def test_optional_metrics_and_emotions_are_combined_when_present_and_null_when_absent():
    metrics_a = {
        "timed": True,
        "reason": None,
        "call": {"duration_seconds": 60.0, "talk_seconds": 50.0, "silence_share": 0.1, "speaker_switches": 7,
                 "interactivity": 0.7, "turns": 8, "questions": 3, "interruptions": 1},
        "speakers": {"Ana": {"talk_seconds": 30.0, "words": 75, "questions": 2, "interruptions": 1, "turns": 4,
                             "longest_monologue_seconds": 12.0, "mean_response_gap_seconds": 1.0}},
    }  # fmt: skip
    metrics_b = {
        "timed": True,
        "reason": None,
        "call": {"talk_seconds": 30.0},
        "speakers": {"ana": {"talk_seconds": 30.0, "words": 45, "questions": 1, "interruptions": 0, "turns": 1,
                             "longest_monologue_seconds": 20.0, "mean_response_gap_seconds": 2.0}},
    }  # fmt: skip
    calls = CallCollection()
    calls.add(
        call(
            speaker("Ana", 2, 0.0, (0, 1, 0), talk_time=99.0),
            conversation_metrics=metrics_a,
            emotions={"speakers": {"Ana": {"shares": {"joy": 0.5, "anger": 0.5}}}},
        ),
        file="a",
    )
    calls.add(
        call(
            speaker("ana", 6, 0.0, (0, 1, 0)),
            conversation_metrics=metrics_b,
            emotions={"speakers": {"ana": {"shares": {"joy": 1.0, "anger": 0.0}}}},
        ),
        file="b",
    )
    calls.add(call(speaker("ANA", 2, 0.0, (0, 1, 0)), duration=None), file="c")  # neither key, no times
    [ana] = calls.speaker_rows()
    assert ana["talk_seconds"] == pytest.approx(60.0)  # the metrics' talk seconds win over talk_time
    assert ana["words_per_minute"] == pytest.approx(60 * (75 + 45) / (30 + 30))
    assert ana["questions"] == 3 and ana["interruptions"] == 1
    assert ana["longest_monologue_seconds"] == pytest.approx(20.0)
    assert ana["mean_response_gap_seconds"] == pytest.approx((1.0 * 4 + 2.0 * 1) / 5)
    assert ana["emotion_joy"] == pytest.approx((0.5 * 2 + 1.0 * 6) / 8)  # call c has no emotions: not counted
    assert ana["emotion_anger"] == pytest.approx(1 / 8)
    assert calls.speaker_columns()[-2:] == ["emotion_joy", "emotion_anger"]
    a, b, c = calls.call_rows()
    assert (a["silence_share"], a["speaker_switches"], a["questions"]) == (0.1, 7, 3)
    assert b["talk_seconds"] == 30.0 and b["silence_share"] is None
    assert all(c[name] is None for name in ("talk_seconds", "silence_share", "interactivity", "duration_seconds"))


def test_without_optional_keys_metric_columns_are_null():
    calls = CallCollection()
    calls.add(call(speaker("Ana", 2, 0.5, (0, 0.5, 0.5))), file="a")
    [ana] = calls.speaker_rows()
    assert ana["words_per_minute"] is None and ana["questions"] is None and ana["talk_seconds"] is None
    assert not any(column.startswith("emotion_") for column in calls.speaker_columns())


def test_failures_and_totals():
    calls = CallCollection()
    calls.add(
        call(speaker("A", 2, 0.5, (0, 0.5, 0.5)), speaker("B", 2, -1.0, (1, 0, 0))),
        file="a",
    )
    calls.add_failure(file="broken.vtt", error="line 4: expected a timestamp")
    calls.add(call(speaker("A", 4, 0.25, (0, 1, 0)), duration=30.0), file="b")
    summary = calls.summary()
    assert summary["totals"]["calls"] == 2 and summary["totals"]["failed"] == 1
    assert summary["totals"]["mean_sentiment"] == pytest.approx((1.0 - 2.0 + 1.0) / 8)
    assert summary["totals"]["negative_share"] == pytest.approx(2 / 8)
    assert summary["totals"]["duration_seconds"] == pytest.approx(90.0)
    assert summary["failures"] == [{"file": "broken.vtt", "error": "line 4: expected a timestamp"}]
    assert [row["status"] for row in summary["calls"]] == ["ok", "failed", "ok"]
    assert summary["calls"][1]["mean_sentiment"] is None
    assert summary["columns"]["calls"] == list(CALL_COLUMNS)
    json.dumps(summary)  # JSON-ready


HOSTILE = "=cmd|' /C calc'!A0 <script>alert(1)</script>"


def test_csv_neutralises_formulas_unless_raw_and_the_dashboard_escapes_names():
    calls = CallCollection()
    calls.add(call(speaker(HOSTILE, 1, -0.5, (1, 0, 0)), speaker("-2+3", 1, 0.5, (0, 0, 1))), file="@evil.vtt")
    summary = calls.summary()
    safe = list(csv.DictReader(io.StringIO(render_table_csv(summary["speakers"], summary["columns"]["speakers"]))))
    raw = list(
        csv.DictReader(io.StringIO(render_table_csv(summary["speakers"], summary["columns"]["speakers"], raw_csv=True)))
    )
    assert {row["speaker"] for row in safe} == {"'" + HOSTILE, "'-2+3"}
    assert {row["speaker"] for row in raw} == {HOSTILE, "-2+3"}
    assert [row["mean_sentiment"] for row in safe] == [row["mean_sentiment"] for row in raw]
    calls_csv = list(csv.DictReader(io.StringIO(render_table_csv(summary["calls"], summary["columns"]["calls"]))))
    assert calls_csv[0]["file"] == "'@evil.vtt"
    page = render_dashboard(summary)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-label="@evil.vtt" data-value="0.0"' in page
