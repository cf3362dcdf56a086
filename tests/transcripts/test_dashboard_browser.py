"""The many-calls dashboard in headless Chromium: its charts and tables show what summary.json says.

The dashboard is built by ``moodline transcript FOLDER --summary-dir`` with the bundled model, opened
from disk with no server, and must make no request beyond its own file. A screenshot is left in
test-artifacts/transcripts/.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from moodline.cli import main
from tests.conftest import ROOT
from tests.servers import require_binary, require_module
from tests.transcripts.conftest import HOSTILE_CALL, SAMPLES

sync_api = require_module("playwright.sync_api")

pytestmark = pytest.mark.integration

ARTIFACTS = ROOT / "test-artifacts" / "transcripts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_binary("chromium", "chromium-browser")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def bars(page: Any, chart: str) -> list[tuple[str, float | None]]:
    pairs = page.eval_on_selector_all(f"#{chart} g.bar", "bars => bars.map(b => [b.dataset.label, b.dataset.value])")
    return [(label, float(value) if value else None) for label, value in pairs]


def table(page: Any, table_id: str, key: str) -> dict[str, dict[str, str]]:
    rows = page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        f"""rows => rows.map(r => [r.dataset.{key},
            Object.fromEntries([...r.querySelectorAll('td')].map(td => [td.dataset.column, td.dataset.value]))])""",
    )
    return dict(rows)


def test_dashboard_charts_and_tables_match_the_summary(tmp_path, browser):
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("zoom_customer_call.vtt", "support_call.srt", "teams_standup.vtt", "otter_interview.txt"):
        shutil.copy(SAMPLES / name, folder)
    (folder / "hostile.vtt").write_text(HOSTILE_CALL, encoding="utf-8")
    (folder / "broken.srt").write_text("1\n00:00:01,000 --> nonsense\nhi\n")
    out = tmp_path / "summary"
    result = CliRunner().invoke(main, ["transcript", str(folder), "--summary-dir", str(out)])
    assert result.exit_code == 1, result.output
    summary = json.loads((out / "summary.json").read_text())

    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((out / "dashboard.html").as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    analysed = [row for row in summary["calls"] if row["status"] == "ok"]
    assert len(analysed) == 5
    for chart, rows, key, column in (
        ("chart-call-sentiment", analysed, "file", "mean_sentiment"),
        ("chart-call-negative", analysed, "file", "negative_share"),
        ("chart-speaker-talk", summary["speakers"], "speaker", "mean_talk_share"),
        ("chart-speaker-sentiment", summary["speakers"], "speaker", "mean_sentiment"),
    ):
        shown = bars(page, chart)
        assert [label for label, _ in shown] == [row[key] for row in rows], chart
        assert [value for _, value in shown] == pytest.approx([row[column] for row in rows]), chart

    calls = table(page, "calls-table", "file")
    assert list(calls) == [row["file"] for row in summary["calls"]]
    for row in summary["calls"]:
        cells = calls[row["file"]]
        assert list(cells) == summary["columns"]["calls"]
        assert cells["status"] == row["status"] and cells["utterances"] == (
            "" if row["utterances"] is None else str(row["utterances"])
        )
        if row["status"] == "ok":
            assert float(cells["mean_sentiment"]) == pytest.approx(row["mean_sentiment"])
    speakers = table(page, "speakers-table", "speaker")
    assert list(speakers) == [row["speaker"] for row in summary["speakers"]]
    for row in summary["speakers"]:
        assert float(speakers[row["speaker"]]["mean_sentiment"]) == pytest.approx(row["mean_sentiment"])
        assert int(speakers[row["speaker"]]["calls"]) == row["calls"]
    assert "=cmd|' /C calc'!A0" in speakers  # shown as the text it is

    assert page.eval_on_selector_all("#failures li", "items => items.map(i => i.dataset.file)") == [
        f"{folder.as_posix()}/broken.srt"
    ]
    assert page.locator("#totals").get_attribute("data-calls") == "5"
    assert page.locator("script").count() == 0
    assert requests == [(out / "dashboard.html").as_uri()]  # nothing fetched: charts and styles are inline
    assert not errors, errors
    context.close()
