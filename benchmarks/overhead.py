"""Where a lone request's time goes in ``moodline serve``, stage by stage, in one run.

One client, one SST-2 dev sentence per request, one request at a time (the 1-connection case), the
bundled model served as a Gunicorn worker serves it (same settings, prediction cache off). Each stage
adds one layer to the one before, so the differences of their medians are what each layer costs:

* ``engine``: ``Engine.predict([sentence])`` on the calling thread, with the session a lone request
  gets (every core when the engine has a wide session, else the worker's threads);
* ``batcher``: ``DynamicBatcher.predict`` in an event loop: queue, hand-off to the inference thread
  and back, futures;
* ``app``: the whole ASGI app called in-process: middleware, routing, request parsing and validation,
  the service (limits, cache lookup), the response and its JSON;
* ``http``: the app under a real Uvicorn worker (uvloop, httptools, as Gunicorn runs it) on a loopback
  socket, from a raw keep-alive socket client: HTTP parsing and writing, the socket round trip.

The stages are timed in interleaved blocks so that a shared machine's drift hits them alike; the
medians and the differences are printed (``--json`` for machine-readable output), and so is the CPU
time per request of the process serving each stage (every thread; the ``http`` stage's is the server
process's, from /proc): on a busy machine wall times wander, CPU time much less. The pieces of the app
layer that do not need the engine are timed on their own too (request validation, response encoding,
metrics), as an aid to reading the ``app`` difference.

    python benchmarks/overhead.py                       # ~1 minute
    python benchmarks/overhead.py --requests 200 --blocks 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import engine as engine_bench  # benchmarks/engine.py: the SST-2 sentences
from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.server import create_app
from moodline.server.batching import DynamicBatcher

STAGES = ("engine", "batcher", "app", "http")


def serving_settings() -> Settings:
    return Settings(cache_size=0, prediction_sample_rate=0.0)


def lone_engine_call(engine: Engine) -> Callable[[str], object]:
    """The engine call a lone request gets: the wide session when the engine has one."""
    if getattr(engine, "wide_backend", None) is not None:
        return lambda text: engine.predict([text], wide=True)  # type: ignore[call-arg]
    return lambda text: engine.predict([text])


def asgi_caller(app: Any) -> Callable[[bytes], Awaitable[bytes]]:
    """Call ``app`` as an ASGI server would for ``POST /predict`` with ``body``; returns the response body."""

    async def call(body: bytes) -> bytes:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/predict",
            "raw_path": b"/predict",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"POST /predict answered {message['status']}")
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return b"".join(chunks)

    return call


class RawHttpClient:
    """One keep-alive connection, requests written and responses read with plain sockets (little client cost)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def post(self, body: bytes) -> bytes:
        head = (
            b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        self.sock.sendall(head + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = header.split(b" ", 2)[1]
        length = next(
            int(line.split(b":", 1)[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        if status != b"200":
            raise RuntimeError(f"POST /predict answered {status.decode()}: {rest[:length]!r}")
        if b"connection: close" in header.lower():  # the server recycles keep-alive connections
            self.reconnect()
        return rest[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        return data

    def reconnect(self) -> None:
        port = self.sock.getpeername()[1]
        self.sock.close()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()


def start_uvicorn(port: int) -> subprocess.Popen[bytes]:
    """The app under one Uvicorn worker set up as Gunicorn's UvicornWorker runs it."""
    code = (
        "import sys, uvicorn; sys.setswitchinterval(0.001); "
        f"uvicorn.run('moodline.server.app:create_app', factory=True, port={port}, loop='uvloop', "
        "http='httptools', log_level='warning', lifespan='on')"
    )
    env = {**os.environ, "MOODLINE_CACHE_SIZE": "0", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_http(port: int, timeout: float = 120.0) -> RawHttpClient:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client = RawHttpClient(port)
            client.post(b'{"text": "warm up"}')
            return client
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise SystemExit(f"error: the server on port {port} did not start")


def time_calls(call: Callable[[], object], count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


async def time_async_calls(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return durations


def app_pieces(sentences: list[str], repeats: int) -> dict[str, float]:
    """Median microseconds of the app layer's engine-free pieces, each timed on its own."""
    from moodline.inference.prediction import Prediction
    from moodline.server.metrics import Metrics
    from moodline.server.schemas import ModelRef, PredictionOut, PredictRequest, PredictResponse

    bodies = [json.dumps({"text": s}).encode() for s in sentences[:repeats]]
    prediction = Prediction("POSITIVE", 0.98, {"NEGATIVE": 0.02, "POSITIVE": 0.98}, False, 1)

    def encode() -> bytes:
        reply = PredictResponse(
            predictions=[PredictionOut(**prediction.to_dict())], model=ModelRef(name="m", version="1")
        )
        reply.label, reply.score = prediction.label, prediction.score
        return reply.model_dump_json(exclude_none=True).encode()

    metrics = Metrics()

    def observe() -> None:
        labels = ("/predict", "POST", "200")
        metrics.requests.labels(*labels).inc()
        metrics.latency.labels(*labels).observe(0.001)

    pieces: dict[str, Callable[[], object]] = {
        "validate request": lambda: [PredictRequest.model_validate_json(b) for b in bodies],
        "encode response": lambda: [encode() for _ in bodies],
        "metrics": lambda: [observe() for _ in bodies],
    }
    return {name: statistics.median(time_calls(piece, 5)) / len(bodies) * 1e6 for name, piece in pieces.items()}


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(sentences: list[str], requests: int, blocks: int, port: int, server_pid: int) -> dict[str, Any]:
    settings = serving_settings()
    engine = Engine.for_serving(settings)
    call_engine = lone_engine_call(engine)
    batcher = DynamicBatcher(engine, max_latency_ms=settings.max_latency_ms)
    await batcher.start()
    app = create_app(settings, engine=Engine.for_serving(settings))
    call_app = asgi_caller(app)
    client = wait_http(port)
    bodies = [json.dumps({"text": s}).encode() for s in sentences]
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    # CPU seconds per request, every thread of the process that serves the stage: unlike wall time,
    # barely moved by other programs on a shared machine.
    cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    texts, payloads = itertools.cycle(sentences), itertools.cycle(bodies)
    try:
        async with app.router.lifespan_context(app):
            for block in range(blocks):
                engine_bench.progress(f"block {block + 1} of {blocks}")
                used = time.process_time()
                samples["engine"] += time_calls(lambda: call_engine(next(texts)), requests)
                cpu["engine"] += time.process_time() - used
                used = time.process_time()
                samples["batcher"] += await time_async_calls(lambda: batcher.predict([next(texts)]), requests)
                cpu["batcher"] += time.process_time() - used
                used = time.process_time()
                samples["app"] += await time_async_calls(lambda: call_app(next(payloads)), requests)
                cpu["app"] += time.process_time() - used
                used = process_cpu_s(server_pid)
                samples["http"] += time_calls(lambda: client.post(next(payloads)), requests)
                cpu["http"] += process_cpu_s(server_pid) - used
    finally:
        client.close()
        await batcher.stop()
    medians = {stage: statistics.median(values) * 1000 for stage, values in samples.items()}
    cpu_ms = {stage: seconds * 1000 / (requests * blocks) for stage, seconds in cpu.items()}
    return {
        "cpu": engine_bench.read_cpu().model,
        "threads": {"served": settings.inference_threads(), "wide": getattr(engine.wide_backend, "threads", None)}
        if hasattr(engine, "wide_backend")
        else {"served": settings.inference_threads(), "wide": None},
        "requests_per_stage": requests * blocks,
        "p50_ms": medians,
        "p99_ms": {stage: float(sorted(v)[int(len(v) * 0.99)] * 1000) for stage, v in samples.items()},
        "layer_ms": {
            "engine": medians["engine"],
            "queue and inference-thread hand-off": medians["batcher"] - medians["engine"],
            "app (middleware, validation, service, JSON)": medians["app"] - medians["batcher"],
            "HTTP and socket": medians["http"] - medians["app"],
            "above the engine": medians["http"] - medians["engine"],
        },
        "cpu_ms_per_request": cpu_ms,
        "layer_cpu_ms": {
            "engine": cpu_ms["engine"],
            "queue and inference-thread hand-off": cpu_ms["batcher"] - cpu_ms["engine"],
            "app (middleware, validation, service, JSON)": cpu_ms["app"] - cpu_ms["batcher"],
            "HTTP and socket": cpu_ms["http"] - cpu_ms["app"],
            "above the engine": cpu_ms["http"] - cpu_ms["engine"],
        },
        "app_pieces_us": app_pieces(sentences, 200),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=engine_bench.DEFAULT_DATA)
    parser.add_argument("--requests", type=int, default=300, help="requests per stage and block")
    parser.add_argument("--blocks", type=int, default=4, help="rounds of the four stages, interleaved")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sentences = engine_bench.load_sentences(args.data, None)
    port = engine_bench_free_port()
    server = start_uvicorn(port)
    try:
        import uvloop

        result = uvloop.run(measure(sentences, args.requests, args.blocks, port, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['cpu']}: one client, one sentence per request, {result['requests_per_stage']} requests per stage; "
        f"inference threads {result['threads']['served']} (wide session: {result['threads']['wide'] or 'none'})"
    )
    print(f"{'stage':<12}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>9}")
    for stage in STAGES:
        print(
            f"{stage:<12}{result['p50_ms'][stage]:>9.3f}{result['p99_ms'][stage]:>9.3f}"
            f"{result['cpu_ms_per_request'][stage]:>9.3f}"
        )
    print("\nwhat each layer adds (differences of p50s; of CPU per request):")
    for layer, ms in result["layer_ms"].items():
        print(f"  {layer:<46}{ms:>8.3f} ms{result['layer_cpu_ms'][layer]:>8.3f} ms CPU")
    print("\napp-layer pieces timed alone:")
    for piece, us in result["app_pieces_us"].items():
        print(f"  {piece:<46}{us:>8.1f} us")
    return 0


def engine_bench_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
