"""The bundled model served by BentoML, as its documentation recommends for a model like this one.

A ``@bentoml.service`` class loads the model once per worker; a ``batchable=True`` API lets BentoML's
adaptive batching merge concurrent requests (``max_batch_size``, ``max_latency_ms``, as the "Adaptive
batching" guide shows). Request: ``POST /predict {"texts": ["..."]}``; answer: ``[{"label", "score"}]``.

    PEER_MODEL_DIR=src/moodline/models/moodline-sentiment-minilm-l6 \\
        bentoml serve bentoml_service:Sentiment --port 3000      # from benchmarks/peers

Tuning (benchmarks/serve.py --tune-peers tries the grid below at 32 connections and keeps the best):
workers x ONNX Runtime threads in {1 x 2, 2 x 1, 1 x 1} on 2 cores. 1 worker with 2 threads was the
best on the 2-core AVX2 machine (109 sentences/s at 1 connection, 121 at 32); two workers starve the
batcher of concurrency and each other of cores. ``max_batch_size`` 32 is the engine's batch size.
``max_latency_ms`` is the latency past which BentoML's dispatcher refuses a request with 503 rather
than queue it; 10 s is moodline's request timeout (its 503 after 10 s queued). A tight value such as
20 ms made BentoML refuse a third of the requests at 32 connections.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
from onnx_model import SentimentModel

WORKERS = int(os.environ.get("PEER_WORKERS", "1"))
THREADS = int(os.environ.get("PEER_THREADS", "2"))
MAX_BATCH_SIZE = int(os.environ.get("PEER_MAX_BATCH_SIZE", "32"))
MAX_LATENCY_MS = int(os.environ.get("PEER_MAX_LATENCY_MS", "10000"))


# Access logging off, as moodline serves by default: a log line per request costs every request.
@bentoml.service(workers=WORKERS, traffic={"timeout": 30}, logging={"access": {"enabled": False}})
class Sentiment:
    def __init__(self) -> None:
        self.model = SentimentModel(os.environ["PEER_MODEL_DIR"], THREADS)

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)
    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        return self.model.predict(texts)
