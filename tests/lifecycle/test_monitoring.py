"""Label-free monitoring end to end: per-source checks, drift alerts that explain themselves, the HTML report,
``/metrics`` and ``GET /monitor``, the ``source`` request field, and a short replay of a domain shift."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request

from moodline.cli import main
from moodline.core.locations import store_url
from moodline.core.settings import get_settings
from moodline.inference.engine import Engine
from moodline.lifecycle.alerts import AlertDispatcher
from moodline.lifecycle.checks import ModelFacts, Monitor
from moodline.lifecycle.store import LoggedPrediction, Store
from moodline.server import create_app
from tests.lifecycle.conftest import SmtpServer, plain_texts, shifted_texts
from tests.servers import app_in_thread, require_binary, require_module

JARGON = {"zorbly", "flimzy", "quantastic", "grumbolic", "snarfed", "blorped", "deploy", "rollout"}


@pytest.fixture(scope="module")
def bundled() -> Engine:
    return Engine.load(threads=1)  # the three-way default model, calibrated


def log(store: Store, engine: Engine, texts: list[str], source: str | None = None) -> None:
    now = time.time()
    store.add_predictions(
        [
            LoggedPrediction(
                uuid.uuid4().hex, now, engine.info.name, engine.info.version, t, p.label, p.score, p.scores, source
            )
            for t, p in zip(texts, engine.predict(texts), strict=True)
        ]
    )


def small_windows(lifecycle_settings: Any, **overrides: Any) -> Any:
    values = {"monitor_reference": 100, "monitor_recent": 100, "monitor_min_samples": 50}
    return lifecycle_settings(**{**values, "text_drift_permutations": 5, **overrides})


def two_tenants(store: Store, engine: Engine) -> None:
    """acme and globex send everyday reviews; then acme alone switches to a new vocabulary."""
    for seed, source in ((1, "acme"), (2, "globex")):
        log(store, engine, [t for t, _ in plain_texts(100, seed=seed)], source)
    log(store, engine, [t for t, _ in shifted_texts(100, seed=3)], "acme")
    log(store, engine, [t for t, _ in plain_texts(100, seed=4)], "globex")


def by_name(report: Any) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


def test_a_shift_in_one_source_fails_that_source_only(bundled, tmp_path, lifecycle_settings):
    settings = small_windows(lifecycle_settings)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    two_tenants(store, bundled)
    checks = by_name(Monitor(store, settings, bundled, ModelFacts.of(bundled, settings)).run())
    assert checks["text_drift[acme]"].status == "fail", checks["text_drift[acme]"].message
    assert checks["text_drift[globex]"].status == "ok", checks["text_drift[globex]"].message
    assert checks["estimated_accuracy[globex]"].status == "ok"
    assert checks["text_drift[acme]"].segment == "acme"
    assert {w["word"] for w in checks["text_drift[acme]"].details["recent_words"]} & JARGON
    # Each source is compared with its own first predictions, not with the other's.
    assert checks["estimated_accuracy[acme]"].details["reference_estimate"]["samples"] == 100


def test_segments_can_be_switched_off(bundled, tmp_path, lifecycle_settings):
    settings = small_windows(lifecycle_settings, monitor_segments=0)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    log(store, bundled, [t for t, _ in plain_texts(60, seed=1)], "acme")
    names = {c.name for c in Monitor(store, settings, bundled, ModelFacts.of(bundled, settings)).run().checks}
    assert not any("[" in name for name in names)


def test_estimate_and_measured_accuracy_side_by_side(bundled, tmp_path, lifecycle_settings):
    settings = small_windows(lifecycle_settings)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    rows = plain_texts(250, seed=5)
    log(store, bundled, [t for t, _ in rows])
    truth = dict(rows)
    logged = store.prediction_slice(bundled.info.version, 0, 250)
    for row in logged[::5]:  # a fifth of the predictions get a feedback label
        store.add_feedback(text=row.text, label=truth[row.text], prediction_id=row.id)
    check = by_name(Monitor(store, settings, bundled, ModelFacts.of(bundled, settings)).run())["estimated_accuracy"]
    windows = check.details["windows"]
    assert [(w["first"], w["last"]) for w in windows] == [(1, 100), (101, 200), (201, 250)]
    for window in windows:
        part = logged[window["first"] - 1 : window["last"]]
        labelled = [row for position, row in enumerate(part, window["first"] - 1) if position % 5 == 0]
        expected = sum(row.label == truth[row.text] for row in labelled) / len(labelled)
        assert window["measured"]["labelled"] == len(labelled)
        assert window["measured"]["accuracy"] == pytest.approx(expected)
        assert 0 < window["estimate"]["accuracy_low"] <= window["estimate"]["accuracy"] <= 1
    assert "measured" in check.message and check.details["measured"]["labelled"] == 20


@pytest.fixture
def webhook() -> Any:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    with app_in_thread(app) as url:
        yield f"{url}/hook", received


@pytest.mark.integration
def test_the_drift_alert_names_the_words_and_shows_examples(
    bundled, tmp_path, lifecycle_settings, smtp_server: SmtpServer, webhook
):
    hook_url, hooks = webhook
    settings = small_windows(
        lifecycle_settings,
        smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none", alert_webhook_url=hook_url,
    )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    log(store, bundled, [t for t, _ in plain_texts(100, seed=1)])
    shifted = [t for t, _ in shifted_texts(100, seed=2)]
    log(store, bundled, shifted)
    dispatcher = AlertDispatcher(store, settings)
    started = dispatcher.raise_for(Monitor(store, settings, bundled, ModelFacts.of(bundled, settings)).run())
    assert "text_drift" in started
    dispatcher.deliver_due()
    [subject] = smtp_server.wait_for("text_drift failing")
    message = next(m for m in smtp_server.messages if str(m["Subject"]) == subject)
    body = message.get_payload()
    assert "Words that mark the latest texts" in body and "Latest texts most unlike the reference" in body
    explanation = body.split("Full report:")[0]
    assert JARGON & set(explanation.replace(",", " ").split())
    assert sum(text in explanation for text in shifted) >= 3  # example texts, verbatim
    [hook] = [h for h in hooks if "text_drift" in h["moodline"]["subject"]]
    assert "Words that mark the latest texts" in hook["text"]
    assert JARGON & set(hook["text"].replace(",", " ").split())
    assert "Results:" not in hook["text"]


@pytest.mark.integration
def test_html_report_in_chromium_shows_the_numbers_of_the_check_json(bundled, tmp_path, monkeypatch):
    sync_api = require_module("playwright.sync_api")
    executable = require_binary("chromium", "chromium-browser")
    for name, value in {
        "MOODLINE_DATA_DIR": str(tmp_path / "data"), "MOODLINE_MONITOR_REFERENCE": "100",
        "MOODLINE_MONITOR_RECENT": "100", "MOODLINE_MONITOR_MIN_SAMPLES": "50",
        "MOODLINE_TEXT_DRIFT_PERMUTATIONS": "5", "MOODLINE_THREADS": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        store = Store.open(store_url(get_settings()))
        two_tenants(store, bundled)
        store.enqueue_alert("check:text_drift:1", ["webhook"], "[moodline] text_drift failing for a test", "body")
        model = str(bundled.info.path)
        checked = CliRunner().invoke(main, ["monitor", "check", "--no-alerts", "--model", model])
        assert checked.exit_code == 3, checked.output  # acme's drift fails
        expected = json.loads(checked.stdout)
        out = tmp_path / "report.html"
        written = CliRunner().invoke(main, ["monitor", "report", "--model", model, "--html", str(out)])
        assert written.exit_code == 0, written.output
    finally:
        get_settings.cache_clear()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(out.as_uri())
            assert "text_drift[acme]" in page.inner_text("#verdict")
            shown = page.eval_on_selector_all(
                "#checks tr[data-check]",
                """rows => rows.map(r => ({
                    name: r.dataset.check,
                    status: r.querySelector('.status').textContent,
                    values: [...r.querySelectorAll('td[data-value]')].map(td => Number(td.dataset.value)),
                }))""",
            )
            windows = page.eval_on_selector_all(
                "#windows tbody tr",
                "rows => rows.map(r => [...r.querySelectorAll('td[data-value]')].map(td => Number(td.dataset.value)))",
            )
            drift_auc = page.eval_on_selector_all(
                "section.drift", "s => s.map(x => [x.dataset.check, Number(x.querySelector('.auc').dataset.value)])"
            )
            alerts = page.inner_text("#alerts")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()

    assert [row["name"] for row in shown] == [c["name"] for c in expected["checks"]]
    for row, check in zip(shown, expected["checks"], strict=True):
        assert row["status"] == check["status"].replace("_", " ")
        numbers = [v for v in (check["value"], check["threshold"]) if v is not None] + [check["samples"]]
        if check["name"] == "model_age":  # days since creation: the clock moved between the two runs
            assert row["values"] == pytest.approx(numbers, abs=1e-3)
        else:
            assert row["values"] == numbers
    history = next(c for c in expected["checks"] if c["name"] == "estimated_accuracy")["details"]["windows"]
    assert windows == [
        [w["estimate"][k] for k in ("accuracy", "accuracy_low", "accuracy_high", "macro_f1")] for w in history
    ]
    aucs = {c["name"]: c["value"] for c in expected["checks"] if c["name"].startswith("text_drift")}
    assert dict(drift_auc) == aucs
    assert "text_drift failing for a test" in alerts


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_monitor_and_metrics_expose_the_estimate_and_requests_name_their_source(
    anyio_backend, bundled, lifecycle_settings
):
    settings = small_windows(lifecycle_settings, prediction_sample_rate=1.0)
    app = create_app(settings, engine=bundled)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://moodline.test") as client:
            for source, seed in (("acme", 1), ("acme", 2), (None, 3), ("acme", 4)):
                texts = [t for t, _ in plain_texts(60, seed=seed)]
                body: dict[str, Any] = {"texts": texts} | ({"source": source} if source else {})
                assert (await client.post("/predict", json=body)).status_code == 200
            for bad in ("", "a b", "x" * 41, "é", "a/b"):
                refused = await client.post("/predict", json={"text": "fine", "source": bad})
                assert refused.status_code == 422, bad
            state = app.state.moodline
            assert state.prediction_log is not None and state.prediction_log.flush(10)
            monitor = (await client.get("/monitor")).json()
            checks = {c["name"]: c for c in monitor["checks"]}
            estimate = checks["estimated_accuracy"]
            assert estimate["status"] == "ok" and estimate["details"]["estimate"]["samples"] == 100
            assert checks["estimated_accuracy[acme]"]["details"]["estimate"]["samples"] == 80
            metrics = (await client.get("/metrics")).text
            version = bundled.info.version
            line = f'moodline_estimated_accuracy{{bound="estimate",model_version="{version}",segment="all"}}'
            exported = next(m for m in metrics.splitlines() if m.startswith(line))
            assert float(exported.split()[-1]) == pytest.approx(estimate["value"])
            assert f'moodline_estimated_macro_f1{{bound="low",model_version="{version}",segment="acme"}}' in metrics
            assert 'moodline_text_drift_auc{model_version="' in metrics
            page = await client.get("/monitor/report")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "Estimated accuracy over time" in page.text
    store = Store(store_url(settings))
    assert store.count_predictions(bundled.info.version, "acme") == 180
    assert store.sources(bundled.info.version, 10) == [("acme", 180)]


@pytest.mark.needs_data
def test_replayed_domain_shift_is_estimated_and_caught(bundled, tmp_path):
    from benchmarks.monitoring import read_dev_set, simulate

    result = simulate(
        bundled,
        read_dev_set("clothing-holdout", 1000, seed=0),
        read_dev_set("meld-dev", 750, seed=0),
        window=250,
        check_every=125,
        min_samples=50,
        permutations=5,
        database=tmp_path / "db.sqlite",
    )
    in_domain = [w for w in result.windows if w.shifted_share == 0]
    shifted = [w for w in result.windows if w.shifted_share == 1]
    assert len(in_domain) == 4 and len(shifted) == 3
    # The 3-point target is judged by benchmarks/monitoring.py on windows of 500 (README: at most 0.027).
    # These windows hold 250 predictions, whose own sampling error is about ±0.05, and int8 rounding
    # differs between CPU kinds: measured here (AMD EPYC, VNNI) at most 0.029, so the bound is 0.04.
    assert all(abs(w.error) <= 0.04 for w in in_domain), [round(w.error, 3) for w in in_domain]
    assert max(w.estimated_accuracy for w in shifted) < min(w.estimated_accuracy for w in in_domain)
    assert result.false_alarms == {"estimated_accuracy": 0, "text_drift": 0}
    assert all(after is not None and after <= 2000 for after in result.fired.values()), result.fired


def test_a_prediction_log_from_before_sources_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:  # the table as earlier versions created it
        old.execute(
            "CREATE TABLE moodline_predictions (seq INTEGER PRIMARY KEY AUTOINCREMENT, id VARCHAR(32) NOT NULL UNIQUE, "
            "created_at FLOAT NOT NULL, model_name VARCHAR(200) NOT NULL, model_version VARCHAR(64) NOT NULL, "
            "text TEXT NOT NULL, label VARCHAR(64) NOT NULL, score FLOAT NOT NULL, scores TEXT NOT NULL)"
        )
        old.execute(
            "INSERT INTO moodline_predictions (id, created_at, model_name, model_version, text, label, score, scores) "
            "VALUES ('a', 1.0, 'm', 'v', 'old text', 'POSITIVE', 0.9, '{\"POSITIVE\": 0.9, \"NEGATIVE\": 0.1}')"
        )
    store = Store(f"sqlite:///{path}")
    store.add_predictions([LoggedPrediction("b", 2.0, "m", "v", "new", "NEGATIVE", 0.8, {"NEGATIVE": 0.8}, "acme")])
    assert [(p.text, p.source) for p in store.first_predictions("v", 10)] == [("old text", None), ("new", "acme")]
    assert store.sources("v", 10) == [("acme", 1)]
