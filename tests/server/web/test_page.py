"""The web page in headless Chromium against a real server with the bundled model.

Each test leaves a screenshot of the state it checked in test-artifacts/web/. Every request the
page makes is recorded, and every one must go to the moodline server itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.core.spreadsheet import neutralise_formula
from moodline.server import create_app
from tests.core.test_spreadsheet import ATTACKS
from tests.servers import app_in_thread, require_binary, require_module

sync_api = require_module("playwright.sync_api")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "web"
SAMPLES = ROOT / "tests" / "transcripts" / "samples"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # No prediction cache: a replayed request must be scored again, not read back.
    with app_in_thread(create_app(Settings(threads=1, cache_size=0, api_keys=[]))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_binary("chromium", "chromium-browser")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Recorder:
    """Every request and uncaught script error of one browser context."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.errors: list[str] = []

    def foreign(self, origin: str) -> list[str]:
        outside = []
        for request in self.requests:
            url = request.url
            if url.startswith("data:"):
                continue  # inline, no host involved
            if url.startswith("blob:"):
                url = url[len("blob:") :]  # a blob URL carries the origin that created it
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != origin:
                outside.append(request.url)
        return outside


def open_page(browser: Any, url: str, recorder: Recorder, **options: Any) -> Any:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900}, **options)
    context.on("request", lambda request: recorder.requests.append(request))
    page = context.new_page()
    page.on("pageerror", lambda error: recorder.errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/")
    return page


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    recorder = Recorder()
    page = open_page(browser, server, recorder)
    page.recorder = recorder
    yield page
    page.context.close()
    assert not recorder.errors, recorder.errors
    assert recorder.requests, "no request was recorded"
    assert not recorder.foreign(server), f"requests left the server: {recorder.foreign(server)}"


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def expect(target: Any) -> Any:
    return sync_api.expect(target)


def test_model_info_and_text_scored_as_you_type(page, server):
    info = httpx.get(f"{server}/info").json()["model"]
    expect(page.locator("#model-info")).to_contain_text(f"{info['name']} · version {info['version']}")
    expect(page.locator("#model-info")).to_contain_text(info["backend"])
    expect(page.get_by_label("API key")).to_be_hidden()  # this server needs none

    for sentence in ("A warm, funny and beautifully acted film.", "A dull, lifeless mess of a movie."):
        expected = httpx.post(f"{server}/predict", json={"text": sentence}).json()["predictions"][0]
        box = page.locator("#text-input")
        box.fill("")
        box.press_sequentially(sentence, delay=5)
        expect(page.locator("#text-result")).to_have_attribute("data-label", expected["label"])
        expect(page.locator("#text-label")).to_have_text(expected["label"])
        expect(page.locator("#text-result .headline")).to_contain_text(f"{expected['score'] * 100:.1f} %")
        # A pause mid-typing may show a partial text's answer first; wait for the whole sentence's.
        page.wait_for_function(
            """([label, score]) => {
                const cell = document.querySelector(`#text-result dd[data-label="${label}"]`);
                return cell !== null && Math.abs(Number(cell.dataset.score) - score) < 1e-6;
            }""",
            arg=[expected["label"], expected["scores"][expected["label"]]],
        )
        shown = {
            cell.get_attribute("data-label"): float(cell.get_attribute("data-score"))
            for cell in page.locator("#text-result dd").all()
        }
        assert shown == pytest.approx(expected["scores"], abs=1e-6)
    assert page.locator("#text-result").get_attribute("aria-live") == "polite"
    screenshot(page, "text")
    scoring = [r for r in page.recorder.requests if r.url.endswith("/predict")]
    assert 1 <= len(scoring) < 40, "typing must be debounced, not one request per key"


def test_transcript_timeline_has_one_series_per_speaker(page, server):
    sample = SAMPLES / "zoom_customer_call.vtt"
    expected = httpx.post(f"{server}/transcripts", files={"file": (sample.name, sample.read_bytes())}).json()
    speakers = [s["speaker"] for s in expected["speakers"]]
    assert len(speakers) >= 3

    page.locator("#transcript-file").set_input_files(str(sample))
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#transcript-status")).to_contain_text(f"Analysed {expected['summary']['utterances']}")
    chart = page.locator("#timeline")
    expect(chart).to_have_attribute("data-series-count", str(len(speakers)))
    # The chart instance itself: uPlot's first series is the x axis.
    labels = chart.evaluate("el => el.uplot.series.slice(1).map(s => s.label)")
    assert labels == speakers
    assert page.locator("#speaker-table tbody tr").count() == len(speakers)
    assert page.locator("#timeline canvas").count() == 1

    # A key moment, chosen with the keyboard, shows its quote.
    moment = expected["most_negative"][0]
    button = page.locator("#moments-negative .moment").first
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#quote-text")).to_have_text(moment["quote"])
    expect(page.locator("#quote")).to_have_attribute("data-speaker", moment["speaker"])

    # Clicking a point in the chart shows what was said there.
    chart.locator(".u-over").click(position={"x": 3, "y": 100})
    expect(page.locator("#quote-text")).to_have_text(expected["utterances"][0]["text"])

    # Hiding a speaker from the legend hides that series.
    page.locator("#timeline-legend button").first.click()
    assert chart.evaluate("el => el.uplot.series[1].show") is False
    page.locator("#timeline-legend button").first.click()
    screenshot(page, "transcript")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("document.querySelector('#timeline canvas').clientWidth <= 390")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a narrow screen"
    screenshot(page, "transcript-narrow")


def test_pasted_transcript_two_speakers(page, server):
    text = (
        "Ana: The new release is fantastic, the team did great work.\n"
        "Ben: I disagree, it crashes constantly and support ignored me.\n"
        "Ana: I'm sorry to hear that, we will fix it this week.\n"
        "Ben: Thanks, that would be wonderful.\n"
    )
    page.locator("#transcript-text").fill(text)
    page.locator("#transcript-format").select_option("plain")
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#timeline")).to_have_attribute("data-series-count", "2")
    assert page.locator("#timeline").evaluate("el => el.uplot.series.length") == 3


def test_invalid_transcript_shows_the_api_error(page, server, tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello world\njust some words here\n")
    answer = httpx.post(f"{server}/transcripts", files={"file": (bogus.name, bogus.read_bytes())})
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]

    page.locator("#transcript-text").fill("Ana: Lovely to see you.\nBen: Likewise, truly.\n")
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#transcript-result")).to_be_visible()
    page.locator("#transcript-file").set_input_files(str(bogus))
    page.get_by_role("button", name="Analyse").click()
    error = page.locator("#transcript-error")
    expect(error).to_contain_text(message)
    expect(error).to_contain_text("HTTP 422")
    assert error.get_attribute("role") == "alert"
    expect(page.locator("#transcript-result")).to_be_hidden()
    screenshot(page, "transcript-error")


def write_reviews(path: Path) -> list[dict[str, str]]:
    """150 reviews with the CSV cases that break naive parsers: commas, quotes and line breaks in fields."""
    openings = ["Loved it", "Hated it", "Fine, I guess", 'A "masterpiece", they said', "Not bad\nnot great either"]
    endings = ["would watch again.", "a waste of money, honestly.", "the cast, the music, all superb.", "meh."]
    rows = []
    for i in range(150):
        review = f"{openings[i % len(openings)]}; {endings[i % len(endings)]} (#{i})"
        rows.append({"id": str(i), "review": "" if i == 7 else review, "stars": str(i % 5 + 1), "note": f"x,{i}"})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "review", "stars", "note"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_csv_scored_and_downloaded_matches_the_api(page, server, tmp_path):
    source = tmp_path / "reviews.csv"
    rows = write_reviews(source)
    page.locator("#csv-file").set_input_files(str(source))
    expect(page.locator("#csv-info")).to_contain_text("150 rows, 4 columns")
    assert page.locator("#csv-column option:checked").inner_text() == "review"
    expect(page.locator("#csv-download")).to_be_hidden()

    page.get_by_role("button", name="Score").click()
    expect(page.locator("#csv-download")).to_be_visible()
    expect(page.locator("#csv-progress-text")).to_contain_text("Scored 149 texts; 1 empty row left unscored")
    assert page.locator("#csv-progress").evaluate("el => el.value === el.max")
    screenshot(page, "csv")
    expect(page.locator("#csv-download")).to_be_focused()
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == "reviews.scored.csv"
    scored = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"), newline="")))
    assert len(scored) == len(rows)
    for original, out in zip(rows, scored, strict=True):
        assert {key: out[key] for key in original} == original  # commas, quotes, newlines intact
    scores = ["score_NEGATIVE", "score_NEUTRAL", "score_POSITIVE"]  # one column per label of the default model
    assert list(scored[0]) == ["id", "review", "stars", "note", "label", "score", *scores]
    assert scored[7]["label"] == scored[7]["score"] == ""

    # The page scored in chunks (real progress); send the same requests to the API and compare every row.
    sent = [r for r in page.recorder.requests if r.url.endswith("/batch_predict")]
    assert len(sent) >= 3
    bodies = [json.loads(r.post_data) for r in sent]
    assert [t for body in bodies for t in body["texts"]] == [r["review"] for r in rows if r["review"]]
    answers = [p for body in bodies for p in httpx.post(f"{server}/batch_predict", json=body).json()["predictions"]]
    for out, answer in zip([r for r in scored if r["label"]], answers, strict=True):
        assert out["label"] == answer["label"]
        assert float(out["score"]) == pytest.approx(answer["score"], abs=1e-6)
        for label, probability in answer["scores"].items():
            assert float(out[f"score_{label}"]) == pytest.approx(probability, abs=1e-6)


def test_broken_csv_is_explained(page, tmp_path):
    source = tmp_path / "broken.csv"
    source.write_text('id,text\n1,"fine"\n2,"never closed\n3,ok\n')
    page.locator("#csv-file").set_input_files(str(source))
    expect(page.locator("#csv-error")).to_have_text("broken.csv: line 3: a quoted field is never closed")
    expect(page.get_by_role("button", name="Score")).to_be_disabled()


def test_csv_parser_edge_cases(page):
    parsed = page.evaluate(
        """async () => {
            const { parseCsv, toCsv } = await import("./static/js/csv.js");
            const text = '\\ufeffa;b\\r\\n"x;1";"say ""hi""\\r\\nthere"\\r\\n\\r\\n2;\\r\\n';
            const table = parseCsv(text);
            const again = parseCsv(toCsv([table.header, ...table.rows]));
            return { table, again };
        }"""
    )
    table = parsed["table"]
    assert table["delimiter"] == ";"
    assert table["header"] == ["a", "b"]
    assert table["rows"] == [["x;1", 'say "hi"\r\nthere'], ["2", ""]]
    assert table["lines"] == [2, 5]
    assert parsed["again"]["rows"] == table["rows"]


def test_csv_round_trips_random_tables(page):
    # Seeded random tables built from the characters that matter to CSV; written then read back.
    mismatches = page.evaluate(
        """async () => {
            const { parseCsv, toCsv } = await import("./static/js/csv.js");
            let seed = 12345;
            const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
            const pieces = ["a", "b ", ",", '"', "\\n", "\\r\\n", ";", "\\t", " ", "é", "x,y"];
            const cell = () => Array.from({ length: Math.floor(random() * 5) }, () =>
                pieces[Math.floor(random() * pieces.length)]).join("");
            const failures = [];
            for (let t = 0; t < 300; t++) {
                const columns = 2 + Math.floor(random() * 3);
                const table = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
                    Array.from({ length: columns }, cell));
                const header = Array.from({ length: columns }, (_, i) => `c${i}`);
                const back = parseCsv(toCsv([header, ...table]), ",");
                if (JSON.stringify(back.rows) !== JSON.stringify(table)) failures.push({ table, back: back.rows });
            }
            return failures;
        }"""
    )
    assert mismatches == []


def test_download_neutralises_formulas_by_the_rule_of_moodlines_own_csv(page):
    cases = [*ATTACKS, "-0.5", "+3", "1e5", "-1.5E-3", "Alex", " =1", "", "a=b", "\n=1"]
    answer = page.evaluate(
        """async (cases) => {
            const { neutraliseFormula } = await import("./static/js/csv.js");
            return { texts: cases.map(neutraliseFormula), numbers: [-0.5, 0.25, 3, null].map(neutraliseFormula) };
        }""",
        cases,
    )
    assert answer["texts"] == [neutralise_formula(case) for case in cases]
    assert answer["numbers"] == [-0.5, 0.25, 3, None]


def test_scored_download_neutralises_formulas_from_the_upload(page, tmp_path):
    source = tmp_path / "hostile.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "=total"])
        writer.writerow(["=cmd|' /C calc'!A0", "a lovely film", "-1"])
        writer.writerow(["2", "-2+3 stars, a dull plot", "@SUM(A1:A9)"])
    page.locator("#csv-file").set_input_files(str(source))
    page.get_by_role("button", name="Score").click()
    expect(page.locator("#csv-download")).to_be_visible()
    with page.expect_download() as download_info:
        page.locator("#csv-download").click()
    scored = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"), newline="")))
    assert list(scored[0])[:3] == ["id", "review", "'=total"]
    assert [row["id"] for row in scored] == ["'=cmd|' /C calc'!A0", "2"]
    assert [row["review"] for row in scored] == ["a lovely film", "'-2+3 stars, a dull plot"]
    assert [row["'=total"] for row in scored] == ["-1", "'@SUM(A1:A9)"]  # a number stays a number
    assert all(0 <= float(row["score"]) <= 1 for row in scored)


@pytest.fixture(scope="module")
def locked_server() -> Iterator[str]:
    """A server that needs the API key "sesame" and refuses texts over 300 characters."""
    with app_in_thread(create_app(Settings(threads=1, api_keys=["sesame"], max_text_chars=300))) as url:
        yield url


@pytest.fixture
def locked_page(browser: Any, locked_server: str) -> Iterator[Any]:
    recorder = Recorder()
    page = open_page(browser, locked_server, recorder)
    page.recorder = recorder
    yield page
    page.context.close()
    assert not recorder.errors, recorder.errors
    assert not recorder.foreign(locked_server), recorder.foreign(locked_server)


def use_key(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()


def test_api_key_field_when_the_server_needs_one(locked_page):
    page = locked_page
    expect(page.get_by_label("API key")).to_be_visible()  # /info says the server needs a key
    page.locator("#text-input").press_sequentially("What a lovely day", delay=5)
    error = page.locator("#text-error")
    expect(error).to_contain_text("missing or invalid API key (send 'Authorization: Bearer <key>') (HTTP 401)")

    use_key(page, "wrong")
    expect(page.locator("#key-status")).to_contain_text("refused")
    use_key(page, "sesame")
    expect(page.locator("#text-label")).to_have_text("POSITIVE")
    expect(error).to_be_empty()
    sent = [r for r in page.recorder.requests if r.url.endswith("/predict")][-1]
    assert sent.headers["authorization"] == "Bearer sesame"
    screenshot(page, "api-key")


def test_csv_refused_by_the_api_shows_its_message(locked_page, locked_server, tmp_path):
    long_text = "a fine film " * 30
    source = tmp_path / "long.csv"
    source.write_text(f"text\nshort and sweet\n{long_text}\n")
    answer = httpx.post(
        f"{locked_server}/batch_predict",
        json={"texts": ["short and sweet", long_text]},
        headers={"Authorization": "Bearer sesame"},
    )
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]

    use_key(locked_page, "sesame")
    locked_page.locator("#csv-file").set_input_files(str(source))
    locked_page.get_by_role("button", name="Score").click()
    expect(locked_page.locator("#csv-error")).to_have_text(f"rows 1–2 could not be scored: {message} (HTTP 422)")
    expect(locked_page.locator("#csv-download")).to_be_hidden()
    screenshot(locked_page, "csv-error")


def test_transcript_shows_emotions_per_speaker_and_per_utterance(page, server):
    sample = SAMPLES / "zoom_customer_call.vtt"
    expected = httpx.post(f"{server}/transcripts", files={"file": (sample.name, sample.read_bytes())}).json()
    emotions = expected["emotions"]
    assert emotions is not None  # the server scores emotions by default

    page.locator("#transcript-file").set_input_files(str(sample))
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#emotions-result")).to_be_visible()
    rows = page.locator("#emotion-table tbody tr")
    assert rows.count() == len(emotions["speakers"])
    for index, (speaker, row) in enumerate(emotions["speakers"].items()):
        expect(rows.nth(index)).to_have_attribute("data-speaker", speaker)
        expect(rows.nth(index).locator(".dominant")).to_have_text(row["dominant"])
        pieces = rows.nth(index).locator(".emotion-bar span")
        shown = {
            pieces.nth(i).get_attribute("data-emotion"): float(pieces.nth(i).get_attribute("data-share") or 0)
            for i in range(pieces.count())
        }
        assert shown == pytest.approx({e: s for e, s in row["shares"].items() if s > 0})
    page.locator("#utterances summary").click()
    cells = page.locator("#utterance-table tbody td.emotion")
    assert cells.count() == len(expected["utterances"])
    assert cells.first.inner_text().startswith(expected["utterances"][0]["emotion"])
    screenshot(page, "transcript-emotions")

    # Unticked, the request asks for no emotions and the section hides.
    page.locator("#transcript-emotions").uncheck()
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#emotions-result")).to_be_hidden()
    expect(page.locator("#utterance-table tbody td.emotion")).to_have_count(0)


# Small timed calls, written by hand: the first has a stretch of negative utterances (a segment).
CALL_A = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Dana>Thanks for joining, Marcus. How did the rollout go?

00:00:04.500 --> 00:00:09.000
<v Marcus>It was a disaster. The outage was awful and cost us a whole day.

00:00:09.500 --> 00:00:13.000
<v Dana>Oh no, that is terrible. I hate hearing that.

00:00:12.500 --> 00:00:16.000
<v Marcus>Support ignored our tickets and the dashboard kept crashing.

00:00:16.400 --> 00:00:20.000
<v Dana>That is unacceptable and really bad. Why did nobody call you?

00:00:20.500 --> 00:00:24.000
<v Marcus>We are furious, the team is exhausted and angry.

00:00:25.000 --> 00:00:29.000
<v Dana>We will fix it this week and credit your account.

00:00:29.500 --> 00:00:33.000
<v Marcus>Thank you, that is wonderful news. I really appreciate it.
"""

CALL_B = """WEBVTT

00:00:00.000 --> 00:00:03.000
<v Dana>Good morning, Priya and Sam. Shall we start?

00:00:03.400 --> 00:00:07.000
<v Priya>Yes! The launch went beautifully and customers love it.

00:00:07.500 --> 00:00:10.000
<v Sam>The numbers look great, sign-ups doubled this week.

00:00:10.200 --> 00:00:13.000
<v Dana>Fantastic work, everyone. What is next?

00:00:14.000 --> 00:00:18.000
<v Priya>We polish the onboarding and write the release notes.
"""


SPEAKER_FIGURES = (
    "talk_seconds",
    "talk_share",
    "words",
    "words_per_minute",
    "longest_monologue_seconds",
    "turns",
    "questions",
    "interruptions",
    "mean_response_gap_seconds",
)


HOSTILE_NAME = "<img src=x onerror=window.pwned=1>.txt"


def write_call(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def data_value(locator: Any) -> float | None:
    raw = locator.get_attribute("data-value")
    return None if raw == "" else float(raw)


def test_one_call_shows_how_it_was_held_and_its_stretches_of_one_mood(page, server, tmp_path):
    call = write_call(tmp_path, "rollout.vtt", CALL_A)
    expected = httpx.post(f"{server}/transcripts", files={"file": (call.name, call.read_bytes())}).json()
    metrics, segments = expected["conversation_metrics"], expected["segments"]
    assert metrics["timed"] and segments, "the hand-made call should be timed and hold a stretch of one mood"

    page.locator("#transcript-file").set_input_files(str(call))
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#transcript-status")).to_contain_text(f"Analysed {expected['summary']['utterances']}")
    expect(page.locator("#metrics-reason")).to_be_hidden()
    figures = page.locator("#call-metrics [data-metric]")
    assert sorted(figures.nth(i).get_attribute("data-metric") for i in range(figures.count())) == sorted(
        metrics["call"]
    )
    for key, value in metrics["call"].items():
        assert data_value(page.locator(f'#call-metrics [data-metric="{key}"]')) == pytest.approx(value), key
    expect(page.locator('#call-metrics [data-metric="duration_seconds"] dd')).to_have_text("0:33")

    rows = page.locator("#talk-table tbody tr")
    assert [rows.nth(i).get_attribute("data-speaker") for i in range(rows.count())] == list(metrics["speakers"])
    for speaker, figures_of in metrics["speakers"].items():
        row = page.locator(f'#talk-table tr[data-speaker="{speaker}"]')
        for column in SPEAKER_FIGURES:
            assert data_value(row.locator(f'td[data-column="{column}"]')) == pytest.approx(figures_of[column]), column
        gaps = row.locator('td[data-column="mean_response_gap_seconds"]')
        assert float(gaps.get_attribute("data-median")) == pytest.approx(figures_of["median_response_gap_seconds"])

    items = page.locator("#segment-list li.segment")
    assert items.count() == len(segments)
    for index, segment in enumerate(segments):
        item = items.nth(index)
        assert item.get_attribute("data-kind") == segment["kind"]
        assert int(item.get_attribute("data-first")) == segment["first_position"]
        assert int(item.get_attribute("data-last")) == segment["last_position"]
        assert float(item.get_attribute("data-mean")) == pytest.approx(segment["mean_sentiment"])
        expect(item.locator(".segment-head")).to_contain_text(", ".join(segment["speakers"]))
        expect(item.locator(".segment-head")).to_contain_text(f"{segment['utterances']} utterances")
        quotes = item.locator(".segment-quotes button q")
        assert [quotes.nth(i).inner_text() for i in range(quotes.count())] == [q["text"] for q in segment["quotes"]]

    # Choosing a quote opens every utterance at the one it quotes.
    quote = segments[0]["quotes"][-1]
    items.first.locator(f'button[data-position="{quote["position"]}"]').click()
    target = page.locator(f'#utterance-table tr[data-position="{quote["position"]}"]')
    expect(target).to_have_attribute("aria-current", "true")
    expect(target).to_be_in_viewport()
    expect(target).to_contain_text(quote["text"])
    expect(page.locator("#quote-text")).to_have_text(quote["text"])
    assert page.locator("#utterance-table tr[aria-current]").count() == 1
    screenshot(page, "transcript-metrics-segments")


def test_untimed_call_says_why_it_has_no_times(page, server):
    text = "Ana: Are you happy with the new release?\nBen: Yes, it is lovely.\nAna: Great, thanks!\n"
    expected = httpx.post(f"{server}/transcripts", json={"transcript": text, "format": "plain"}).json()
    metrics = expected["conversation_metrics"]
    assert not metrics["timed"] and metrics["reason"]

    page.locator("#transcript-text").fill(text)
    page.locator("#transcript-format").select_option("plain")
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#metrics-reason")).to_have_text(f"No times: {metrics['reason']}")
    duration = page.locator('#call-metrics [data-metric="duration_seconds"]')
    expect(duration.locator("dd")).to_have_text("–")
    assert duration.get_attribute("data-value") == ""
    assert data_value(page.locator('#call-metrics [data-metric="questions"]')) == metrics["call"]["questions"]
    # One item per segment (or one saying there is none); each segment's quotes are a list inside it.
    expect(page.locator("#segment-list > li")).to_have_count(max(1, len(expected["segments"])))


def test_several_calls_show_the_dashboard_and_name_the_broken_file(page, server, tmp_path):
    files = [
        write_call(tmp_path, "rollout.vtt", CALL_A),
        write_call(tmp_path, "launch.vtt", CALL_B),
        write_call(tmp_path, HOSTILE_NAME, "hello world\njust some words here\n"),  # named to be markup
    ]
    answer = httpx.post(
        f"{server}/transcripts", files=[("file", (path.name, path.read_bytes())) for path in files]
    ).json()
    summary = answer["summary"]
    assert summary["totals"]["calls"] == 2 and summary["totals"]["failed"] == 1
    [failure] = summary["failures"]
    assert failure["file"] == HOSTILE_NAME

    page.locator("#transcript-file").set_input_files([str(path) for path in files])
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#transcript-status")).to_have_text("Analysed 2 of 3 calls; 1 failed.")
    expect(page.locator("#calls-result")).to_be_visible()
    expect(page.locator("#transcript-result")).to_be_hidden()
    sent = [r for r in page.recorder.requests if r.url.endswith("/transcripts")]
    assert len(sent) == 1, "several files go in one request"
    # Chromium does not expose a multipart body with files; the answer lists the files that one request held.
    assert [call["file"] for call in sent[0].response().json()["calls"]] == [path.name for path in files]

    totals = page.locator("#calls-totals")
    assert [totals.get_attribute(f"data-{key}") for key in ("calls", "failed", "speakers")] == [
        str(summary["totals"][key]) for key in ("calls", "failed", "speakers")
    ]
    broken = page.locator(f'#calls-failures li[data-file="{HOSTILE_NAME}"]')
    expect(broken).to_have_text(f"{HOSTILE_NAME}: {failure['error']}")
    assert page.locator("#calls-result img").count() == 0, "a file name was inserted as markup"
    assert page.evaluate("window.pwned") is None

    rows = page.locator("#calls-table tbody tr")
    assert [rows.nth(i).get_attribute("data-file") for i in range(rows.count())] == [
        r["file"] for r in summary["calls"]
    ]
    for index, expected_row in enumerate(summary["calls"]):
        row = rows.nth(index)
        assert row.get_attribute("data-status") == expected_row["status"]
        for column in ("duration_seconds", "utterances", "speakers", "mean_sentiment", "negative_share"):
            shown = data_value(row.locator(f'td[data-column="{column}"]'))
            assert shown == pytest.approx(expected_row[column]), (expected_row["file"], column)
    expect(rows.nth(2).locator('td[data-column="status"]')).to_have_text(f"failed: {failure['error']}")

    emotions = [c.removeprefix("emotion_") for c in summary["columns"]["speakers"] if c.startswith("emotion_")]
    assert emotions, "the server scores emotions by default"
    speakers = page.locator("#speakers-table tbody tr")
    assert [speakers.nth(i).get_attribute("data-speaker") for i in range(speakers.count())] == [
        r["speaker"] for r in summary["speakers"]
    ]
    for index, expected_row in enumerate(summary["speakers"]):
        row = speakers.nth(index)
        for column in ("calls", "mean_talk_share", "mean_sentiment"):
            assert data_value(row.locator(f'td[data-column="{column}"]')) == pytest.approx(expected_row[column])
        shares = json.loads(row.locator('td[data-column="label_shares"]').get_attribute("data-value"))
        assert shares == pytest.approx({label: expected_row[f"{label}_share"] for label in shares})
        dominant = max(emotions, key=lambda e: expected_row[f"emotion_{e}"])  # max keeps the first of a tie
        assert row.locator('td[data-column="dominant_emotion"]').get_attribute("data-value") == dominant
    dana = next(r for r in summary["speakers"] if r["speaker"] == "Dana")
    assert dana["calls"] == 2  # one speaker across both calls

    def bars(chart: str) -> list[tuple[str, float | None]]:
        found = page.locator(f"{chart} g.bar")
        return [(found.nth(i).get_attribute("data-label"), data_value(found.nth(i))) for i in range(found.count())]

    analysed = [r for r in summary["calls"] if r["status"] == "ok"]
    assert bars("#calls-sentiment-chart") == [(r["file"], pytest.approx(r["mean_sentiment"])) for r in analysed]
    assert bars("#calls-talk-chart") == [
        (r["speaker"], pytest.approx(r["mean_talk_share"])) for r in summary["speakers"]
    ]
    screenshot(page, "calls-dashboard")

    # A call's file opens that call in full below the dashboard.
    launch = next(call for call in answer["calls"] if call["file"] == "launch.vtt")
    page.locator("#calls-table").get_by_role("button", name="launch.vtt").click()
    expect(page.locator("#call-title")).to_have_text("Call: launch.vtt")
    expect(page.locator("#timeline")).to_have_attribute("data-series-count", str(len(launch["insights"]["speakers"])))
    talk = page.locator("#talk-table tbody tr")
    assert [talk.nth(i).get_attribute("data-speaker") for i in range(talk.count())] == list(
        launch["insights"]["conversation_metrics"]["speakers"]
    )
    expect(page.locator("#calls-result")).to_be_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(100)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a narrow screen"


def test_more_files_than_the_server_takes_are_refused_before_sending(page, server, tmp_path):
    limit = httpx.get(f"{server}/info").json()["limits"]["max_transcript_files"]
    files = [write_call(tmp_path, f"call-{i:02d}.vtt", CALL_B) for i in range(limit + 1)]
    expect(page.locator("#model-info")).to_contain_text("version")  # /info, and so the limit, has arrived
    page.locator("#transcript-file").set_input_files([str(path) for path in files])
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#transcript-error")).to_have_text(
        f"You chose {limit + 1} files; this server analyses at most {limit} in one request. Choose fewer files."
    )
    assert not [r for r in page.recorder.requests if r.url.endswith("/transcripts")]
    expect(page.locator("#calls-result")).to_be_hidden()
