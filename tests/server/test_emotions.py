"""Emotions on the server with the tiny models: POST /transcripts (JSON, multipart), the off switches, /live, /info."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from moodline.core.settings import Settings
from moodline.inference.emotions import EMOTION_LABELS, EmotionScorer
from moodline.inference.engine import Engine
from moodline.server import create_app
from tests.servers import app_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():  # type: ignore[no-untyped-def]
    return "asyncio"


SAMPLE = Path(__file__).parent.parent / "transcripts" / "samples" / "zoom_customer_call.vtt"


async def test_transcripts_have_emotions_by_default_and_match_the_emotion_model(make_client, tiny_emotion_engine):
    async with make_client() as client:
        answer = await client.post("/transcripts", json={"transcript": SAMPLE.read_text()})
        upload = await client.post("/transcripts", files={"file": (SAMPLE.name, SAMPLE.read_bytes(), "text/vtt")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["emotions"]["labels"] == list(EMOTION_LABELS)
    assert set(body["emotions"]["speakers"]) == {u["speaker"] for u in body["utterances"]}
    expected = EmotionScorer(tiny_emotion_engine).score([u["text"] for u in body["utterances"]])
    assert [u["emotion"] for u in body["utterances"]] == [e.label for e in expected]
    assert upload.status_code == 200 and upload.json()["emotions"] == body["emotions"]


@pytest.mark.parametrize(
    ("request_kwargs", "scored"),
    [
        ({"json": {"transcript": SAMPLE.read_text(), "emotions": False}}, False),
        ({"json": {"transcript": SAMPLE.read_text(), "emotions": True}}, True),
        ({"files": {"file": (SAMPLE.name, SAMPLE.read_bytes())}, "data": {"emotions": "false"}}, False),
        ({"files": {"file": (SAMPLE.name, SAMPLE.read_bytes())}, "data": {"emotions": "off"}}, False),
        ({"files": {"file": (SAMPLE.name, SAMPLE.read_bytes())}, "data": {"emotions": "1"}}, True),
    ],
)
async def test_the_emotions_option_switches_them_per_request(make_client, request_kwargs, scored):
    async with make_client() as client:
        answer = await client.post("/transcripts", **request_kwargs)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["emotions"] is not None) is scored
    assert all(("emotion" in u) is scored for u in body["utterances"])


async def test_many_files_with_emotions_off_have_none(make_client):
    files = [("file", ("a.vtt", SAMPLE.read_bytes())), ("file", ("b.vtt", SAMPLE.read_bytes()))]
    async with make_client() as client:
        on = await client.post("/transcripts", files=files)
        off = await client.post("/transcripts", files=files, data={"emotions": "no"})
    assert on.status_code == 200 and off.status_code == 200
    assert all(call["insights"]["emotions"] is not None for call in on.json()["calls"])
    assert all(call["insights"]["emotions"] is None for call in off.json()["calls"])
    assert any(column.startswith("emotion_") for column in on.json()["summary"]["columns"]["speakers"])
    assert not any(column.startswith("emotion_") for column in off.json()["summary"]["columns"]["speakers"])


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"transcript": "A: hi", "emotions": "yes"}},
        {"json": {"transcript": "A: hi", "emotions": 1}},
        {"files": {"file": ("a.txt", b"A: hi")}, "data": {"emotions": "maybe"}},
    ],
)
async def test_a_bad_emotions_option_is_a_clear_422(make_client, request_kwargs):
    async with make_client() as client:
        answer = await client.post("/transcripts", **request_kwargs)
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "invalid_input" and "emotions" in answer.json()["error"]["message"]


async def test_emotions_off_server_wide_loads_no_emotion_model_and_refuses_asking_for_them(make_client):
    async with make_client(emotions=False) as client:
        default = await client.post("/transcripts", json={"transcript": SAMPLE.read_text()})
        asked = await client.post("/transcripts", json={"transcript": SAMPLE.read_text(), "emotions": True})
        info = await client.get("/info")
    assert default.status_code == 200 and default.json()["emotions"] is None
    assert asked.status_code == 422 and "MOODLINE_EMOTIONS=0" in asked.json()["error"]["message"]
    assert info.json()["emotion_model"] is None


async def test_info_names_the_emotion_model(make_client, tiny_emotion_engine):
    async with make_client() as client:
        info = (await client.get("/info")).json()
    assert info["emotion_model"]["name"] == tiny_emotion_engine.info.name
    assert info["emotion_model"]["labels"] == tiny_emotion_engine.labels and "path" not in info["emotion_model"]


async def test_a_model_without_the_seven_emotions_fails_at_startup(tiny_engine):
    app = create_app(Settings(), engine=tiny_engine, emotion_engine=tiny_engine)
    with pytest.raises(Exception, match="emotion model needs exactly the labels"):
        async with app.router.lifespan_context(app):
            pass


def test_emotion_model_setting_points_at_a_directory(tiny_engine, tiny_emotion_model):
    settings = Settings(emotion_model=str(tiny_emotion_model))
    with app_in_thread(create_app(settings, engine=tiny_engine)) as url:
        info = httpx.get(f"{url}/info", timeout=10).json()
    assert info["emotion_model"]["name"] == "tiny-emotions"


def _live(url: str, query: str, texts: list[str]) -> tuple[list[dict], dict]:
    with connect(url.replace("http://", "ws://") + "/live" + query) as socket:
        replies = []
        for text in texts:
            socket.send(json.dumps({"speaker": "Ana", "text": text}))
            replies.append(json.loads(socket.recv(timeout=10)))
        socket.send(json.dumps({"type": "summary"}))
        return replies, json.loads(socket.recv(timeout=10))


def test_live_replies_carry_the_emotion_unless_switched_off(live_server, tiny_emotion_engine):
    url, key = live_server
    texts = ["I am thrilled!", "This is horrible.", "See you at ten."]
    replies, summary = _live(url, f"?api_key={key}", texts)
    expected = EmotionScorer(tiny_emotion_engine).score(texts)
    assert [r["emotion"] for r in replies] == [e.label for e in expected]
    assert [r["emotion_score"] for r in replies] == pytest.approx([e.score for e in expected])
    assert summary["emotions"]["speakers"]["Ana"]["utterances"] == 3
    assert sum(summary["emotions"]["overall"].values()) == pytest.approx(1.0)
    replies, summary = _live(url, f"?api_key={key}&emotions=false", texts)
    assert all("emotion" not in r and r["type"] == "utterance" for r in replies)
    assert summary["emotions"] is None


def test_live_with_emotions_off_on_the_server(tiny_engine):
    with app_in_thread(create_app(Settings(emotions=False), engine=tiny_engine)) as url:
        replies, summary = _live(url, "", ["Hello there."])
        assert "emotion" not in replies[0] and summary["emotions"] is None
        with connect(url.replace("http://", "ws://") + "/live?emotions=true") as socket:
            with pytest.raises(Exception, match="MOODLINE_EMOTIONS=0"):
                socket.recv(timeout=10)


def test_engine_labels_fixture_is_the_emotion_model(tiny_emotion_engine: Engine) -> None:
    assert sorted(tiny_emotion_engine.labels) == sorted(EMOTION_LABELS)


async def test_emotions_are_cached_apart_from_sentiment_even_with_one_version(
    make_client, tiny_engine, tiny_emotion_engine
):
    from dataclasses import replace

    from tests.server.conftest import clone_engine

    # The two tiny models exported with the same version string: their cached answers must not mix.
    emotion = clone_engine(tiny_emotion_engine, Engine)
    emotion.info = replace(emotion.info, version=tiny_engine.info.version)
    text = "The demo went really well, thank you all."
    async with make_client(emotion_engine=emotion) as client:
        first = (await client.post("/transcripts", json={"transcript": f"Ana: {text}"})).json()
        again = (await client.post("/transcripts", json={"transcript": f"Ana: {text}"})).json()
        predicted = (await client.post("/predict", json={"text": text})).json()
    assert first["utterances"] == again["utterances"]
    assert first["utterances"][0]["emotion"] in EMOTION_LABELS
    assert predicted["label"] in tiny_engine.labels
