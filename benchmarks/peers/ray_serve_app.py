"""The bundled model served by Ray Serve, as its documentation recommends: a deployment with ``@serve.batch``.

The deployment's ``__call__`` takes the HTTP request and awaits a ``@serve.batch`` method, which Ray Serve
calls with the texts of concurrent requests (the "Dynamic Request Batching" guide). Request:
``POST / {"text": "..."}``; answer: ``{"label", "score"}``. Started by this file as a script: a local
Ray instance with the machine's cores, Serve's HTTP proxy on ``--port``.

    PEER_MODEL_DIR=src/moodline/models/moodline-sentiment-minilm-l6 python ray_serve_app.py --port 8000

Tuning (benchmarks/serve.py --tune-peers tries the grid below at 32 connections and keeps the best):
replicas x ONNX Runtime threads in {1 x 2, 2 x 1, 1 x 1} on 2 cores. Ray's own processes (GCS, raylet,
HTTP proxy, controller) share those cores, which is why one replica with 2 threads is the default.
``max_batch_size`` 32 is the engine's batch size; ``batch_wait_timeout_s`` 2 ms is moodline's batching
window (Serve's default 10 ms only adds latency on a CPU this size); ``max_ongoing_requests`` is raised
from its default of 5 so a replica can gather a batch of 32.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

from onnx_model import SentimentModel
from ray import serve
from starlette.requests import Request

REPLICAS = int(os.environ.get("PEER_WORKERS", "1"))
THREADS = int(os.environ.get("PEER_THREADS", "2"))
MAX_BATCH_SIZE = int(os.environ.get("PEER_MAX_BATCH_SIZE", "32"))
BATCH_WAIT_S = float(os.environ.get("PEER_MAX_LATENCY_MS", "2")) / 1000


@serve.deployment(num_replicas=REPLICAS, max_ongoing_requests=256, ray_actor_options={"num_cpus": 0})
class Sentiment:
    def __init__(self, model_dir: str) -> None:
        self.model = SentimentModel(model_dir, THREADS)

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        return self.model.predict(texts)

    async def __call__(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        return await self.predict(body["text"])


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description="Serve the bundled model with Ray Serve")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(Sentiment.bind(os.environ["PEER_MODEL_DIR"]), route_prefix="/", blocking=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    # Not serve.shutdown(): its graceful drain can hang for minutes; stopping the local Ray instance
    # ends the controller, proxy and replicas with it.
    ray.shutdown()


if __name__ == "__main__":
    main()
