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


def test_transcripts_answer_with_conversation_metrics_and_segments(server):
    sample = SAMPLES / "zoom_customer_call.vtt"
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=30) as client:
        timed = client.post("/transcripts", json={"transcript": sample.read_text()})
        untimed = client.post("/transcripts", json={"transcript": "Ana: Can you hear me?\nBo: Yes.\n"})
    assert timed.status_code == 200 and untimed.status_code == 200, (timed.text, untimed.text)
    metrics = timed.json()["conversation_metrics"]
    assert metrics["timed"] is True and metrics["reason"] is None
    assert list(metrics["speakers"]) == [s["speaker"] for s in timed.json()["speakers"]]
    assert set(metrics["call"]) == {
        "duration_seconds",
        "talk_seconds",
        "silence_share",
        "speaker_switches",
        "interactivity",
        "turns",
        "questions",
        "interruptions",
    }
    assert metrics["call"]["turns"] == timed.json()["summary"]["turns"]
    assert isinstance(timed.json()["segments"], list)
    plain = untimed.json()["conversation_metrics"]
    assert plain["timed"] is False and "no timings" in plain["reason"]
    assert plain["speakers"]["Ana"]["questions"] == 1 and plain["speakers"]["Ana"]["talk_seconds"] is None


def test_live_summary_measures_the_conversation_so_far(server):
    script = [  # (speaker, text, start, end): Ana cuts in at 15 while Sam talks until 18
        ("Ana", "Thanks for joining, how are things?", 0, 8),
        ("Sam", "This release is a disaster.", 10, 18),
        ("Ana", "Let's look at it together.", 15, 25),
        ("Sam", "Nothing works and the customers are furious.", 26, 30),
        ("Sam", "I am really frustrated with this awful situation.", 30, 38),
        ("Sam", "Honestly it is terrible.", 40, 48),
        ("Sam", "The whole week was a horrible mess.", 49, 55),
    ]
    with connect(f"ws://127.0.0.1:{server}/live") as socket:
        for bad in ({"text": "hi", "end": 3}, {"text": "hi", "time": 5, "end": 3}, {"text": "hi", "time": True}):
            socket.send(json.dumps(bad))
            assert json.loads(socket.recv(timeout=10))["type"] == "error"
        socket.send(json.dumps({"type": "summary"}))
        empty = json.loads(socket.recv(timeout=10))
        answers = []
        for speaker, text, start, end in script:
            socket.send(json.dumps({"speaker": speaker, "text": text, "time": start, "end": end}))
            answers.append(json.loads(socket.recv(timeout=10)))
            while answers[-1]["type"] == "alert":
                answers.append(json.loads(socket.recv(timeout=10)))
        socket.send(json.dumps({"type": "summary"}))
        summary = json.loads(socket.recv(timeout=10))
    assert empty["utterances"] == 0 and empty["segments"] == []
    assert summary["type"] == "summary" and summary["utterances"] == len(script) and summary["first_index"] == 0
    metrics = summary["conversation_metrics"]
    assert metrics["timed"] is True
    call, ana, sam = metrics["call"], metrics["speakers"]["Ana"], metrics["speakers"]["Sam"]
    assert (call["turns"], call["speaker_switches"], call["interruptions"], call["questions"]) == (4, 3, 1, 1)
    assert call["duration_seconds"] == 55 and call["talk_seconds"] == pytest.approx(49)
    assert call["silence_share"] == pytest.approx(6 / 55)
    assert (ana["interruptions"], sam["interruptions"]) == (1, 0)
    assert sam["longest_monologue_seconds"] == 29 and sam["mean_response_gap_seconds"] == pytest.approx(1.5)
    labels = [a["label"] for a in answers if a["type"] == "utterance"]
    assert labels == ["positive", "negative", "neutral", "negative", "negative", "negative", "negative"]
    # Ana's one neutral reply is tolerated inside Sam's complaint: one negative stretch from 1 to 6.
    [segment] = summary["segments"]
    assert (segment["kind"], segment["first_position"], segment["last_position"]) == ("negative", 1, 6)
    assert (segment["start"], segment["end"], segment["speakers"]) == (10, 55, ["Sam", "Ana"])
    assert len(segment["quotes"]) == 3 and {q["speaker"] for q in segment["quotes"]} == {"Sam"}


def test_live_without_end_times_says_so():
    live = LiveConversation(window=2, threshold=-0.3, alert_after=2)
    for speaker, sentiment, when in (("A", -0.9, 0.0), ("B", 0.5, 3.0)):
        live.add(speaker, sentiment)
        live.remember(speaker, "Is it?", when, None, "negative" if sentiment < 0 else "positive", sentiment)
    summary = live.summary()
    assert summary["conversation_metrics"]["timed"] is False
    assert "start times but no end times" in summary["conversation_metrics"]["reason"]
    assert summary["conversation_metrics"]["call"]["questions"] == 2


def test_transcripts_and_live_carry_emotions_from_the_shipped_emotion_model(server):
    """The server of this module loads the shipped emotion model (emotions are on by default)."""
    from moodline.inference.emotions import EMOTION_LABELS

    base = f"http://127.0.0.1:{server}"
    sample = SAMPLES / "zoom_customer_call.vtt"
    with httpx.Client(base_url=base, timeout=30) as client:
        on = client.post("/transcripts", json={"transcript": sample.read_text()}).json()
        off = client.post("/transcripts", json={"transcript": sample.read_text(), "emotions": False}).json()
        form_off = client.post(
            "/transcripts", files={"file": (sample.name, sample.read_bytes())}, data={"emotions": "false"}
        )
        info = client.get("/info").json()
    assert info["emotion_model"]["name"] and sorted(map(str.lower, info["emotion_model"]["labels"])) == sorted(
        EMOTION_LABELS
    )
    assert on["emotions"]["labels"] == list(EMOTION_LABELS)
    assert list(on["emotions"]["speakers"]) == ["Dana Whitfield", "Marcus Lee", "Priya Raman"]
    assert all(u["emotion"] in EMOTION_LABELS and 0 < u["emotion_score"] <= 1 for u in on["utterances"])
    assert off["emotions"] is None and all("emotion" not in u for u in off["utterances"])
    assert form_off.status_code == 200 and form_off.json()["emotions"] is None
    # Sentiment does not change when emotions are scored beside it.
    assert [u["sentiment"] for u in on["utterances"]] == [u["sentiment"] for u in off["utterances"]]
    with connect(f"ws://127.0.0.1:{server}/live") as socket:
        socket.send(json.dumps({"speaker": "Ana", "text": "I am so happy with how this turned out!"}))
        reply = json.loads(socket.recv(timeout=10))
    assert reply["type"] == "utterance" and reply["emotion"] == "joy" and reply["emotion_score"] > 0.5
    with connect(f"ws://127.0.0.1:{server}/live?emotions=false") as socket:
        socket.send(json.dumps({"speaker": "Ana", "text": "I am so happy with how this turned out!"}))
        assert "emotion" not in json.loads(socket.recv(timeout=10))
