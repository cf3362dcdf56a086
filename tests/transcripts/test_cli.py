from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from moodline.cli import main
from moodline.inference.sources import SST2_MODEL_NAME
from tests.transcripts.conftest import HOSTILE_CALL

SAMPLES = Path(__file__).parent / "samples"


def test_transcript_writes_json_and_csv(tmp_path):
    out_json, out_csv = tmp_path / "call.json", tmp_path / "call.csv"
    result = CliRunner().invoke(
        main, ["transcript", str(SAMPLES / "zoom_customer_call.vtt"), "--json", str(out_json), "--csv", str(out_csv)]
    )
    assert result.exit_code == 0, result.output
    insights = json.loads(out_json.read_text())
    assert insights["format"] == "vtt" and insights["summary"]["speakers"] == len(insights["speakers"]) == 3
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == insights["summary"]["utterances"]
    assert [r["text"] for r in rows] == [u["text"] for u in insights["utterances"]]
    assert {r["label"] for r in rows} <= {"negative", "neutral", "positive"}
    for speaker in insights["speakers"]:
        assert speaker["speaker"] in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["call.csv", "call.json"]  # no temporary files left


def test_transcript_csv_neutralises_formulas_unless_raw_csv(tmp_path):
    call = tmp_path / "call.vtt"
    call.write_text(HOSTILE_CALL, encoding="utf-8")
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert CliRunner().invoke(main, ["transcript", str(call), "--csv", str(safe)]).exit_code == 0
    assert CliRunner().invoke(main, ["transcript", str(call), "--csv", str(raw), "--raw-csv"]).exit_code == 0
    safe_rows = list(csv.DictReader(safe.open(newline="")))
    raw_rows = list(csv.DictReader(raw.open(newline="")))
    assert safe_rows[0]["speaker"] == "'=cmd|' /C calc'!A0" and raw_rows[0]["speaker"] == "=cmd|' /C calc'!A0"
    assert safe_rows[1]["text"].startswith("'-2+3") and raw_rows[1]["text"].startswith("-2+3")
    assert [row["sentiment"] for row in safe_rows] == [row["sentiment"] for row in raw_rows]


def test_transcript_errors_are_clean_and_write_nothing(tmp_path):
    broken = tmp_path / "broken.vtt"
    broken.write_text("WEBVTT\n\n1\n00:00:0x.000 --> 00:00:06.000\nAlex: hello\n")
    result = CliRunner().invoke(main, ["transcript", str(broken), "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 1 and "line 4" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["transcript", str(tmp_path / "nope.vtt")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.vtt"]


def test_predict_three_way():
    result = CliRunner().invoke(main, ["predict", "--three-way", "--json", "I love it", "This is awful"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert rows[0]["sentiment"] > 0 > rows[1]["sentiment"]
    refused = CliRunner().invoke(main, ["predict", "--three-way", "--url", "http://127.0.0.1:9", "x"])
    assert refused.exit_code == 2


def test_evaluate_three_way(tmp_path):
    data = tmp_path / "turns.csv"
    data.write_text(
        "utterance,sentiment\nI love this so much,positive\nThis is terrible,negative\n"
        "The meeting is at ten,neutral\nWhat a fantastic result,positive\n"
    )
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--three-way",
            "--data",
            str(data),
            "--text-column",
            "utterance",
            "--label-column",
            "sentiment",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 4 and set(report["per_class"]) == {"negative", "neutral", "positive"}
    assert {"always_binary", "always_neutral"} == set(report["baselines"])
    assert sum(map(sum, report["confusion_matrix"]["matrix"])) == 4
    wrong = tmp_path / "binary.csv"
    wrong.write_text("utterance,sentiment\ngood,yes\nbad,no\n")
    refused = CliRunner().invoke(
        main,
        ["evaluate", "--three-way", "--data", str(wrong), "--text-column", "utterance", "--label-column", "sentiment"],
    )
    assert refused.exit_code == 1 and "is not recognisably negative, neutral or positive" in refused.output


def test_neutral_band_is_configurable():
    everything_neutral = CliRunner().invoke(
        # The band applies to binary models: the shipped SST-2 one.
        main,
        [
            "predict",
            "--three-way",
            "--model",
            SST2_MODEL_NAME,
            "--neutral-band",
            "0,1",
            "--json",
            "I love it",
            "This is awful",
        ],
    )
    assert everything_neutral.exit_code == 0, everything_neutral.output
    assert [json.loads(line)["label"] for line in everything_neutral.output.splitlines()] == ["neutral", "neutral"]
    for bad in ("nope", "0.9,0.1", "0.2,1.5"):
        refused = CliRunner().invoke(main, ["predict", "--three-way", "--neutral-band", bad, "x"])
        assert refused.exit_code == 1 and "Traceback" not in refused.output, bad


def test_transcript_prints_how_the_call_was_held_and_writes_segments(tmp_path):
    segments_csv, out_json = tmp_path / "segments.csv", tmp_path / "call.json"
    sample = str(SAMPLES / "zoom_customer_call.vtt")
    result = CliRunner().invoke(
        main, ["transcript", sample, "--segments-csv", str(segments_csv), "--json", str(out_json), "--segments", "1"]
    )
    assert result.exit_code == 0, result.output
    insights = json.loads(out_json.read_text())
    metrics = insights["conversation_metrics"]
    assert metrics["timed"] is True and set(metrics["speakers"]) == {s["speaker"] for s in insights["speakers"]}
    call = metrics["call"]
    assert f"how it was held: {call['duration_seconds']:.0f}s, silence {call['silence_share']:.0%}" in result.output
    for name, row in metrics["speakers"].items():
        assert f"{name:<20}{row['talk_seconds']:.0f}s talk, {row['words_per_minute']:.0f} wpm" in result.output
    assert len(insights["segments"]) <= 1
    rows = list(csv.DictReader(segments_csv.open(newline="")))
    assert len(rows) == sum(len(s["quotes"]) for s in insights["segments"])
    for segment in insights["segments"]:
        assert f"{segment['kind']} stretch" in result.output
    assert f"wrote {segments_csv}" in result.output


def test_transcript_without_timings_says_so(tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_text("Ana: Can you hear me?\nBo: Yes, loud and clear.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["transcript", str(chat)])
    assert result.exit_code == 0, result.output
    assert "no time-based figures: the plain transcript has no timings" in result.output
    assert "Ana                 4 words, 1 turn, 1 question" in result.output
    bad = CliRunner().invoke(main, ["transcript", str(chat), "--segments", "-1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
