"""Everything a server scores goes through the batcher and the cache: the engine never runs two calls at once.

POST /transcripts and WebSocket /live used to call the engine on the default thread pool, beside the
batcher's inference thread; here they run while /predict is under concurrent load, on an engine that
records whether any two of its calls overlapped.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.server import create_app
from tests.server.conftest import clone_engine
from tests.servers import app_in_thread

SAMPLE = Path(__file__).parent.parent / "transcripts" / "samples" / "zoom_customer_call.vtt"


class OverlapRecordingEngine(Engine):
    """The tiny real engine, counting the calls in progress; each call lasts long enough to overlap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.texts_scored: list[str] = []

    def probabilities(self, texts, *, long_text=None, wide=False):  # type: ignore[no-untyped-def]
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.texts_scored.extend(texts)
        try:
            time.sleep(0.005)
            return super().probabilities(texts, long_text=long_text, wide=wide)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def recording_engine(tiny_engine: Engine) -> OverlapRecordingEngine:
    engine = clone_engine(tiny_engine, OverlapRecordingEngine)
    assert isinstance(engine, OverlapRecordingEngine)
    return engine


def test_transcripts_live_and_predict_share_one_inference_thread_and_the_cache(recording_engine):
    from websockets.sync.client import connect

    transcript = SAMPLE.read_text(encoding="utf-8")
    app = create_app(Settings(max_latency_ms=2.0), engine=recording_engine)
    with app_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        stop = threading.Event()

        def predict_load(worker: int) -> int:
            sent = 0
            with httpx.Client(base_url=url, timeout=30) as own:
                while not stop.is_set():
                    reply = own.post("/predict", json={"texts": [f"load {worker} {sent}", "fine, thanks"]})
                    assert reply.status_code == 200, reply.text
                    sent += 1
            return sent

        def live_session() -> list[dict[str, Any]]:
            answers = []
            with connect(url.replace("http", "ws") + "/live") as socket:
                for number in range(15):
                    socket.send(json.dumps({"speaker": f"S{number % 2}", "text": f"live message {number} is great"}))
                    answers.append(json.loads(socket.recv(timeout=30)))
            return answers

        with ThreadPoolExecutor(max_workers=6) as pool:
            load = [pool.submit(predict_load, worker) for worker in range(4)]
            live = pool.submit(live_session)
            first = client.post("/transcripts", json={"transcript": transcript})
            answers = live.result(timeout=60)
            stop.set()
            sent = sum(future.result(timeout=60) for future in load)

        assert first.status_code == 200, first.text
        assert sent > 0 and all(answer["type"] == "utterance" for answer in answers)
        assert recording_engine.most_at_once == 1  # every call, from every endpoint, one at a time

        # The same transcript again: every utterance comes from the cache, the engine sees none of them.
        utterances = [u["text"] for u in first.json()["utterances"]]
        before = len(recording_engine.texts_scored)
        again = client.post("/transcripts", json={"transcript": transcript})
        assert again.status_code == 200
        assert again.json() == first.json()
        assert len(recording_engine.texts_scored) == before
        assert set(utterances) <= set(recording_engine.texts_scored)
        metrics = client.get("/metrics").text
        hits = [line for line in metrics.splitlines() if line.startswith("moodline_cache_hits_total")]
        assert hits and float(hits[0].split()[-1]) >= len(utterances)
