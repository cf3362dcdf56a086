"""POST /transcripts and WebSocket /live against real servers with the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.inference.sources import SST2_MODEL_NAME
from moodline.server import create_app
from moodline.server.routes.conversations import LiveConversation
from tests.servers import app_in_thread

SAMPLES = Path(__file__).parent.parent / "transcripts" / "samples"


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    settings = Settings(live_window=1, live_alert_threshold=-0.3, live_alert_count=3)
    # The live rules (order, streaks, alerts) are tested on the binary model, whose labels for this
    # script are known; the default model's own quality is tested in tests/inference/test_bundled_model.py.
    with app_in_thread(create_app(settings, engine=Engine.load(SST2_MODEL_NAME))) as url:
        yield url.rsplit(":", 1)[1]


def test_transcript_upload_and_json(server):
    base = f"http://127.0.0.1:{server}"
    sample = SAMPLES / "zoom_customer_call.vtt"
    with httpx.Client(base_url=base, timeout=30) as client:
        upload = client.post("/transcripts", files={"file": (sample.name, sample.read_bytes(), "text/vtt")})
        as_json = client.post("/transcripts", json={"transcript": sample.read_text(), "window": 3})
        broken = client.post("/transcripts", json={"transcript": "WEBVTT\n\n00:00:0x.000 --> 00:00:01.000\nA: hi\n"})
        empty = client.post("/transcripts", json={"text": "no transcript key"})
    assert upload.status_code == 200, upload.text
    assert upload.json()["summary"]["speakers"] == 3 and upload.json()["source"] == sample.name
    assert as_json.status_code == 200 and as_json.json()["window"] == 3
    assert as_json.json()["utterances"] == upload.json()["utterances"]
    assert broken.status_code == 422 and "line 3" in broken.json()["error"]["message"]
    assert empty.status_code == 422 and empty.json()["error"]["type"] == "invalid_input"


def test_live_answers_in_order_and_alerts_after_three_negative(server):
    script = [
        ("Ana", "Thanks for joining, great to see everyone."),
        ("Sam", "This release is a disaster."),
        ("Ana", "Let's look at it together."),
        ("Sam", "Nothing works and the customers are furious."),
        ("Sam", "I am really frustrated with this awful situation."),  # third negative in a row: alert
        ("Sam", "Honestly it is terrible."),  # the same streak: no second alert
        ("Sam", "Great, thanks, that fixed it!"),  # recovered
    ]
    with connect(f"ws://127.0.0.1:{server}/live") as socket:
        socket.send("{not json")
        assert json.loads(socket.recv(timeout=10))["type"] == "error"
        events = []
        for i, (speaker, text) in enumerate(script):
            socket.send(json.dumps({"speaker": speaker, "text": text, "time": float(i)}))
            events.append(json.loads(socket.recv(timeout=10)))
            if i == 4:
                events.append(json.loads(socket.recv(timeout=10)))
    utterances = [e for e in events if e["type"] == "utterance"]
    alerts = [e for e in events if e["type"] == "alert"]
    assert [u["index"] for u in utterances] == list(range(len(script)))
    assert [u["text"] for u in utterances] == [text for _, text in script]
    assert [u["label"] for u in utterances][1::2][:2] == ["negative", "negative"]
    assert len(alerts) == 1 and alerts[0]["speaker"] == "Sam" and alerts[0]["utterances"] == 3
    assert events.index(alerts[0]) == 5  # right after the third negative utterance's answer, not before
    assert utterances[-1]["rolling"]["Sam"] > 0


def test_live_conversation_rules():
    live = LiveConversation(window=2, threshold=-0.3, alert_after=2)
    assert live.add("A", -0.9) == ({"A": -0.9}, False)
    assert live.add("B", 0.5)[1] is False  # another speaker does not break or extend A's streak
    rolling, alert = live.add("A", -0.5)
    assert alert and rolling["A"] == pytest.approx(-0.7)
    assert live.add("A", -0.8)[1] is False  # one alert per streak
    assert live.add("A", 0.9)[1] is False  # rolling back above the threshold: streak reset, alert re-armed
    assert live.add("A", -0.9)[1] is False  # rolling (0.9 - 0.9) / 2 = 0: not below yet
    assert live.add("A", -0.9)[1] is False  # streak 1
    assert live.add("A", -0.9)[1] is True  # streak 2: a new alert
