"""``moodline transcript`` with emotions: every output gains them, --no-emotions removes them.

Most tests run on the tiny models (``--model`` / ``--emotion-model``); the ones named ``shipped`` run
the default models, the shipped emotion model included, exactly as a user would.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.inference.emotions import EMOTION_LABELS
from moodline.inference.sources import EMOTION_MODEL_NAME, MODELS_DIR

SAMPLES = Path(__file__).parent / "samples"
CALL = SAMPLES / "zoom_customer_call.vtt"


def _outputs(tmp_path: Path) -> list[str]:
    return [
        "--json",
        str(tmp_path / "call.json"),
        "--csv",
        str(tmp_path / "call.csv"),
        "--html",
        str(tmp_path / "call.html"),
        "--png",
        str(tmp_path / "charts"),
    ]


def test_every_output_has_emotions_and_the_summary_prints_them(tmp_path, tiny_onnx_model, tiny_emotion_model):
    models = ["--model", str(tiny_onnx_model), "--emotion-model", str(tiny_emotion_model)]
    result = CliRunner().invoke(main, ["transcript", str(CALL), *models, *_outputs(tmp_path)])
    assert result.exit_code == 0, result.output
    insights = json.loads((tmp_path / "call.json").read_text())
    emotions = insights["emotions"]
    assert emotions["labels"] == list(EMOTION_LABELS) and all(u["emotion"] for u in insights["utterances"])
    rows = list(csv.DictReader((tmp_path / "call.csv").open(newline="")))
    assert [r["emotion"] for r in rows] == [u["emotion"] for u in insights["utterances"]]
    assert 'id="speaker-emotions"' in (tmp_path / "call.html").read_text()
    assert (tmp_path / "charts" / "emotions.png").read_bytes()[:4] == b"\x89PNG"
    assert "\nemotions (share of utterances, the dominant first): " in result.output
    for name, speaker in emotions["speakers"].items():
        line = next(
            line for line in result.output.splitlines() if line.startswith(f"  {name[:19]:<20}{speaker['dominant']}")
        )
        assert f"{speaker['dominant']} {speaker['shares'][speaker['dominant']]:.0%}" in line


def test_no_emotions_removes_them_everywhere(tmp_path, tiny_onnx_model):
    result = CliRunner().invoke(
        main, ["transcript", str(CALL), "--model", str(tiny_onnx_model), "--no-emotions", *_outputs(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    insights = json.loads((tmp_path / "call.json").read_text())
    assert insights["emotions"] is None and not any("emotion" in u for u in insights["utterances"])
    assert "emotion" not in next(csv.reader((tmp_path / "call.csv").open(newline="")))
    assert not (tmp_path / "charts" / "emotions.png").exists()
    assert "emotions:" not in result.output


def test_the_setting_switches_them_off_by_default(tmp_path, tiny_onnx_model, monkeypatch):
    from moodline.core.settings import get_settings

    monkeypatch.setenv("MOODLINE_EMOTIONS", "0")
    get_settings.cache_clear()
    try:
        out = tmp_path / "call.json"
        result = CliRunner().invoke(
            main, ["transcript", str(CALL), "--model", str(tiny_onnx_model), "--json", str(out)]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["emotions"] is None


def test_a_model_without_the_emotions_is_a_clean_error_and_writes_nothing(tmp_path, tiny_onnx_model):
    result = CliRunner().invoke(
        main,
        [
            "transcript",
            str(CALL),
            "--model",
            str(tiny_onnx_model),
            "--emotion-model",
            str(tiny_onnx_model),
            "--json",
            str(tmp_path / "x.json"),
        ],
    )
    assert result.exit_code == 1 and "exactly the labels" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_many_calls_sum_emotions_per_speaker_into_the_summary(tmp_path, tiny_onnx_model, tiny_emotion_model):
    calls = tmp_path / "calls"
    calls.mkdir()
    for name in ("zoom_customer_call.vtt", "teams_standup.vtt"):
        (calls / name).write_bytes((SAMPLES / name).read_bytes())
    summary_dir = tmp_path / "summary"
    models = ["--model", str(tiny_onnx_model), "--emotion-model", str(tiny_emotion_model)]
    result = CliRunner().invoke(main, ["transcript", str(calls), *models, "--summary-dir", str(summary_dir)])
    assert result.exit_code == 0, result.output
    speakers = list(csv.DictReader((summary_dir / "speakers.csv").open(newline="")))
    for row in speakers:
        assert sum(float(row[f"emotion_{e}"]) for e in EMOTION_LABELS) == pytest.approx(1.0)
    assert "chart-speaker-emotions" in (summary_dir / "dashboard.html").read_text()
    assert "dominant emotion" in result.output


def test_shipped_emotion_model_is_used_by_default(tmp_path):
    assert (MODELS_DIR / EMOTION_MODEL_NAME / "model.onnx").is_file(), f"{EMOTION_MODEL_NAME} is not shipped"
    result = CliRunner().invoke(main, ["transcript", str(CALL), *_outputs(tmp_path)])
    assert result.exit_code == 0, result.output
    insights = json.loads((tmp_path / "call.json").read_text())
    assert insights["emotions"]["labels"] == list(EMOTION_LABELS)
    assert {u["emotion"] for u in insights["utterances"]} <= set(EMOTION_LABELS)
    rows = list(csv.DictReader((tmp_path / "call.csv").open(newline="")))
    assert [r["emotion"] for r in rows] == [u["emotion"] for u in insights["utterances"]]
    assert (tmp_path / "charts" / "emotions.png").is_file() and 'id="emotion-timeline"' in (
        tmp_path / "call.html"
    ).read_text()
    off = CliRunner().invoke(main, ["transcript", str(CALL), "--no-emotions", "--json", str(tmp_path / "off.json")])
    assert off.exit_code == 0 and json.loads((tmp_path / "off.json").read_text())["emotions"] is None
