"""``moodline transcript`` over many files with the bundled default model: streaming, failures, summaries."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from moodline.cli import main
from tests.conftest import ROOT, require_shared_data
from tests.transcripts.conftest import HOSTILE_CALL, SAMPLES

GOOD = (
    "zoom_customer_call.vtt",
    "support_call.srt",
    "product_review.sbv",
    "otter_interview.txt",
    "deepgram_like.json",
    "interview_notes.csv",
    "google_meet_export.txt",
)


def calls_folder(root: Path) -> Path:
    folder = root / "calls"
    (folder / "2024" / "may").mkdir(parents=True)
    for number, name in enumerate(GOOD):
        target = folder / name if number % 2 else folder / "2024" / "may" / name
        shutil.copy(SAMPLES / name, target)
    (folder / "2024" / "lee.txt").write_text("marcus  LEE: The invoice is wrong again.\nCaller: I know, sorry.\n")
    (folder / ".hidden.vtt").write_text("not read: hidden")
    (folder / "notes.md").write_text("not read: not a transcript suffix")
    return folder


def test_many_files_stream_report_the_bad_one_and_write_summaries(tmp_path):
    folder = calls_folder(tmp_path)
    (folder / "broken.vtt").write_text("WEBVTT\n\n1\n00:00:0x.000 --> 00:00:06.000\nAlex: hello\n")
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('"Agent" = "Marcus Lee"\n')
    out, per_call = tmp_path / "summary", tmp_path / "per-call"
    extra = tmp_path / "extra.vtt"
    extra.write_text(HOSTILE_CALL, encoding="utf-8")
    args = ["transcript", str(folder), str(extra), "--summary-dir", str(out), "--per-call-json", str(per_call)]
    result = CliRunner().invoke(main, [*args, "--aliases", str(aliases)])

    assert result.exit_code == 1, result.output  # one file failed, and the run still finished
    assert "Traceback" not in result.output
    broken = f"{folder.as_posix()}/broken.vtt"
    assert f"skipped {broken}: line 4: expected a timestamp line" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["calls.csv", "dashboard.html", "speakers.csv", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["calls"] == len(GOOD) + 2 and summary["totals"]["failed"] == 1
    assert [f["file"] for f in summary["failures"]] == [broken]
    assert summary["failures"][0]["error"].startswith("line 4: expected a timestamp line")
    files = [row["file"] for row in summary["calls"]]
    base = folder.as_posix()
    assert files[:3] == [
        f"{base}/2024/lee.txt",
        f"{base}/2024/may/deepgram_like.json",
        f"{base}/2024/may/google_meet_export.txt",
    ]
    assert files[-1] == extra.as_posix() and not any("hidden" in f or f.endswith(".md") for f in files)
    assert {row["format"] for row in summary["calls"] if row["status"] == "ok"} == {
        "vtt", "srt", "sbv", "otter", "json", "csv", "plain"
    }  # fmt: skip

    speakers = {row["speaker"]: row for row in csv.DictReader((out / "speakers.csv").open(newline=""))}
    # "Agent" (support_call.srt) by alias, "marcus  LEE" by matching, and zoom_customer_call.vtt's Marcus Lee
    assert speakers["Marcus Lee"]["calls"] == "3"
    assert "Agent" not in speakers and "marcus lee" not in speakers
    assert speakers["Caller"]["calls"] == "2"
    assert "'=cmd|' /C calc'!A0" in speakers  # spreadsheet formulas neutralised
    rows = list(csv.DictReader((out / "calls.csv").open(newline="")))
    assert len(rows) == len(GOOD) + 3 and [r["file"] for r in rows] == files
    assert next(r for r in rows if r["file"] == broken)["status"] == "failed"

    written = sorted(p.relative_to(per_call).as_posix() for p in per_call.rglob("*.json"))
    assert "2024/lee.txt.json" in written and "extra.vtt.json" in written and len(written) == len(GOOD) + 2
    one = json.loads((per_call / "2024" / "may" / "zoom_customer_call.vtt.json").read_text())
    assert one["summary"]["speakers"] == 3 and one["source"].endswith("zoom_customer_call.vtt")


def test_undecodable_empty_and_missing_files_are_each_reported(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(SAMPLES / "support_call.srt", folder)
    (folder / "latin1.txt").write_bytes("Zoë: ça va très mal\n".encode("latin-1"))
    (folder / "empty.vtt").write_text("")
    (folder / "table.csv").write_text("a,b\n1,2\n")
    result = CliRunner().invoke(main, ["transcript", str(folder), str(tmp_path / "gone.vtt")])
    assert result.exit_code == 1, result.output
    for name, reason in (
        ("latin1.txt", "not valid UTF-8"),
        ("empty.vtt", "empty input"),
        ("table.csv", "text"),
        ("gone.vtt", "no such file"),
    ):
        assert any(name in line and reason in line for line in result.output.splitlines()), (name, result.output)
    assert "1 call analysed, 4 failed" in result.output


def test_all_good_exits_zero_and_usage_mistakes_exit_two(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in GOOD[:2]:
        shutil.copy(SAMPLES / name, folder)
    ok = CliRunner().invoke(main, ["transcript", str(folder)])
    assert ok.exit_code == 0, ok.output
    assert "2 calls analysed, 0 failed" in ok.output and "Dana Whitfield" in ok.output
    mixed = CliRunner().invoke(main, ["transcript", str(folder), "--json", str(tmp_path / "x.json")])
    assert mixed.exit_code == 2 and "--json" in mixed.output and "--summary-dir" in mixed.output
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    empty = CliRunner().invoke(main, ["transcript", str(nothing)])
    assert empty.exit_code == 1 and "no transcripts" in empty.output
    bad_aliases = tmp_path / "aliases.json"
    bad_aliases.write_text("[1]")
    refused = CliRunner().invoke(main, ["transcript", str(folder), "--aliases", str(bad_aliases)])
    assert refused.exit_code == 1 and "aliases.json" in refused.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aliases.json", "calls", "nothing"]


def test_example_calls_script_builds_twenty_and_more_files_that_all_analyse(tmp_path):
    data = require_shared_data()
    out = tmp_path / "examples"
    script = ROOT / "scripts" / "make_example_calls.py"
    made = subprocess.run(
        [sys.executable, str(script), str(out), "--data-root", str(data)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    files = sorted(out.iterdir())
    assert len(files) >= 20
    assert {p.suffix for p in files} == {".vtt", ".srt", ".sbv", ".json", ".csv", ".txt"}
    summary_dir = tmp_path / "summary"
    result = CliRunner().invoke(main, ["transcript", str(out), "--summary-dir", str(summary_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads((summary_dir / "summary.json").read_text())
    assert summary["totals"]["calls"] == len(files) and summary["totals"]["failed"] == 0
    assert {row["format"] for row in summary["calls"]} == {"vtt", "srt", "sbv", "json", "csv", "otter", "plain"}
    recurring = [row for row in summary["speakers"] if row["calls"] >= 3]
    assert {"Joey", "Ross", "Rachel"} <= {row["speaker"] for row in recurring}  # MELD's real speakers recur
    missing = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x"), "--data-root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "is missing" in missing.stderr
