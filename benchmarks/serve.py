"""Benchmark the moodline HTTP server against a typical Flask sentiment server, in one run.

Closed-loop load from ``wrk`` (C, so the load generator takes little of the two cores the servers
need): N connections each send one SST-2 dev sentence per request, cycling through the dev set, and
send the next as soon as the answer arrives. For each concurrency level (default 1, 8, 32, 128):

* ``reference``: Flask under Gunicorn, 2 sync workers (one per core), calling the Hugging Face
  pipeline once per request, as such servers are usually written: torch keeps its default thread
  count, so each worker uses every core and the two compete. The model has the exact
  DistilBERT-SST2 architecture (random weights, same compute);
* ``reference tuned``: the same server with ``torch.set_num_threads(1)`` in each worker, which
  removes the oversubscription: the strongest version of that design on 2 cores, printed for
  comparison (``vs tuned``);
* ``moodline``: ``moodline serve`` (the same command the container runs) with that model exported
  to int8, prediction cache off so every request is computed;
* ``moodline bundled``: ``moodline serve`` with the bundled model, cache off;
* ``bundled + log``: the same server right after, with the prediction log on at ``--log-rate``
  (default 0.1, the rate the README's lifecycle example serves with; 0 leaves the row out): "vs log
  off" divides its rate by the row above's at the same concurrency, so logging's cost is read from
  one run.

For each moodline model the engine's own throughput (benchmarks/engine.py's measurement, in a fresh
process, right before and right after that model's server) is printed too, and "vs engine" divides
by the mean of the two: what the HTTP layer and batching keep of it.

    python benchmarks/serve.py                      # ~3 minutes
    python benchmarks/serve.py --duration 5 --concurrency 1,32
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import engine as engine_bench  # benchmarks/engine.py: model builders and the engine measurement

LOGGED = "bundled + log"

REFERENCE_APP = """
import os
import torch
from flask import Flask, jsonify, request
from transformers import pipeline

if os.environ.get("REFERENCE_TORCH_THREADS"):  # only the tuned variant sets it
    torch.set_num_threads(int(os.environ["REFERENCE_TORCH_THREADS"]))
classify = pipeline("sentiment-analysis", model=os.environ["REFERENCE_MODEL"], device="cpu")
app = Flask(__name__)


@app.post("/predict")
def predict():
    return jsonify(classify(request.get_json()["text"])[0])
"""

WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end
"""


@dataclass
class Point:
    server: str
    concurrency: int
    sentences_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    vs_reference: float | None = None
    vs_tuned_reference: float | None = None
    vs_engine: float | None = None
    vs_log_off: float | None = None  # the logged server's rate / the same server's without the log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, path: str, timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = json.dumps({"text": "warm up"}).encode() if path == "/predict" else None
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"error: the server on port {port} did not become ready")


def wait_idle(port: int) -> None:
    """Wait until requests abandoned by the last wrk run are done.

    wrk stops at the deadline with requests in flight, and a sync Gunicorn worker still finishes
    every connection it accepted: without this, a slow server's backlog from one level would eat
    into the next level's time.
    """
    for _ in range(300):
        started = time.monotonic()
        wait_ready(port, "/predict", timeout=120)
        if time.monotonic() - started < 0.5:
            return


def start(command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_wrk(port: int, concurrency: int, duration: int, bodies: Path, script: Path) -> tuple[float, float, float, int]:
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/predict",
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "BODIES": str(bodies)}, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _latency_ms(out, "50%")
    p99 = _latency_ms(out, "99%")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rate, p50, p99, errors


def _latency_ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"\s{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure_server(
    name: str, process: subprocess.Popen[bytes], port: int, levels: list[int], duration: int, bodies: Path, script: Path
) -> list[Point]:
    try:
        wait_ready(port, "/predict")
        run_wrk(port, max(levels), 2, bodies, script)  # warm-up: thread pools, allocator, caches
        points = []
        for concurrency in levels:
            wait_idle(port)
            engine_bench.progress(f"{name}: {concurrency} clients")
            points.append(Point(name, concurrency, *run_wrk(port, concurrency, duration, bodies, script)))
        return points
    finally:
        stop(process)


def measure_engine(name: str, model: Path | None, sentences: list[str]) -> float:
    """benchmarks/engine.py's figure for ``model`` (None: bundled), in a fresh process."""
    engine_bench.progress(f"{name}: engine alone")
    row = engine_bench.in_fresh_process(engine_bench.time_engine_row, name, model, 2, 32, sentences, 50, 3)
    return float(row.sentences_per_s)


def ratio(rate: float, baseline: float) -> float | None:
    return rate / baseline if baseline > 0 else None  # a reference that answered nothing has no ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=engine_bench.DEFAULT_DATA)
    parser.add_argument("--duration", type=int, default=10, help="seconds per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32,128", help="comma-separated client counts")
    parser.add_argument("--workers", type=int, default=None, help="moodline Gunicorn workers (default: its own)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads per moodline worker")
    parser.add_argument("--log-rate", type=float, default=0.1, help="prediction log sample rate of the last row")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk is not installed (Debian package 'wrk')")
    levels = [int(c) for c in args.concurrency.split(",")]
    sentences = engine_bench.load_sentences(args.data, None)
    moodline = Path(sys.executable).parent / "moodline"
    common = {"MOODLINE_CACHE_SIZE": "0", "TOKENIZERS_PARALLELISM": "false"}
    if args.workers:
        common["MOODLINE_WORKERS"] = str(args.workers)
    if args.threads:
        common["MOODLINE_THREADS"] = str(args.threads)

    with tempfile.TemporaryDirectory(prefix="moodline-serve-bench-") as tmp:
        work = Path(tmp)
        bodies, script = work / "bodies.jsonl", work / "post.lua"
        bodies.write_text("\n".join(json.dumps({"text": s}) for s in sentences) + "\n")
        script.write_text(WRK_SCRIPT)
        engine_bench.progress("building the DistilBERT-shaped model and its int8 export")
        hf_dir, _, int8_dir = engine_bench.in_fresh_process(engine_bench.prepare_models, work, None, 2, 32)
        (work / "reference_app.py").write_text(REFERENCE_APP)

        points: list[Point] = []
        for name, torch_threads in (("reference", {}), ("reference tuned", {"REFERENCE_TORCH_THREADS": "1"})):
            port = free_port()
            gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}"]
            reference = start(
                [*gunicorn, "--timeout", "120", "reference_app:app"],
                {"REFERENCE_MODEL": str(hf_dir), **torch_threads},
                cwd=work,
            )
            points += measure_server(name, reference, port, levels, args.duration, bodies, script)
        engine_passes: dict[str, list[float]] = {}
        for name, engine_model in (("moodline", int8_dir), ("moodline bundled", None)):
            # The engine alone right before and right after its server: the machine's speed drifts
            # by 10 % and more within minutes, and one engine figure from another moment would move
            # the "vs engine" ratio by as much.
            engine_passes[name] = [measure_engine(name, engine_model, sentences)]
            port = free_port()
            model = str(engine_model) if engine_model else "bundled"
            server = start([str(moodline), "serve", "--port", str(port)], {**common, "MOODLINE_MODEL": model})
            points += measure_server(name, server, port, levels, args.duration, bodies, script)
            engine_passes[name].append(measure_engine(name, engine_model, sentences))
            if engine_model is None and args.log_rate > 0:
                port = free_port()
                logging_on = {
                    **common,
                    "MOODLINE_MODEL": model,
                    "MOODLINE_PREDICTION_SAMPLE_RATE": str(args.log_rate),
                    "MOODLINE_DATA_DIR": str(work / "data"),  # the prediction log's SQLite file
                }
                server = start([str(moodline), "serve", "--port", str(port)], logging_on)
                points += measure_server(LOGGED, server, port, levels, args.duration, bodies, script)
        engine_rate = {name: sum(rates) / len(rates) for name, rates in engine_passes.items()}
        engine_rate[LOGGED] = engine_rate["moodline bundled"]
    reference_rate = {p.concurrency: p.sentences_per_s for p in points if p.server == "reference"}
    tuned_rate = {p.concurrency: p.sentences_per_s for p in points if p.server == "reference tuned"}
    unlogged_rate = {p.concurrency: p.sentences_per_s for p in points if p.server == "moodline bundled"}
    for point in points:
        if point.server == LOGGED:
            point.vs_log_off = ratio(point.sentences_per_s, unlogged_rate[point.concurrency])
        if point.server != "reference":
            point.vs_reference = ratio(point.sentences_per_s, reference_rate[point.concurrency])
        if point.server.startswith("moodline"):
            point.vs_tuned_reference = ratio(point.sentences_per_s, tuned_rate[point.concurrency])
            point.vs_engine = point.sentences_per_s / engine_rate[point.server]
    if args.json:
        report = {"engine_sentences_per_s": engine_rate, "engine_passes": engine_passes}
        print(json.dumps({**report, "points": [asdict(p) for p in points]}, indent=2))
        return 0
    print(
        f"{len(sentences)} SST-2 dev sentences, one per request, {args.duration}s per level, wrk closed loop; "
        f"moodline: {args.workers or 'default'} worker(s), {args.threads or 'default'} inference thread(s) each"
    )
    for name, rates in engine_passes.items():
        passes = " and ".join(f"{rate:.0f}" for rate in rates)
        print(f"engine alone, {name}: {engine_rate[name]:.0f} sentences/s (before and after its server: {passes})")
    print()
    header = (
        f"{'server':<18}{'clients':>8}{'sent/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs ref':>8}"
        f"{'vs tuned':>9}{'vs engine':>10}{'vs log off':>11}"
    )
    print(header + "\n" + "-" * len(header))
    for p in points:
        ref = f"{p.vs_reference:.2f}x" if p.vs_reference else ("1.00x" if p.server == "reference" else "n/a")
        tuned = f"{p.vs_tuned_reference:.2f}x" if p.vs_tuned_reference else ""
        eng = f"{p.vs_engine:.0%}" if p.vs_engine else ""
        log_off = f"{p.vs_log_off:.2f}x" if p.vs_log_off else ""
        print(
            f"{p.server:<18}{p.concurrency:>8}{p.sentences_per_s:>9.1f}{p.p50_ms:>9.2f}{p.p99_ms:>9.2f}"
            f"{p.errors:>8}{ref:>8}{tuned:>9}{eng:>10}{log_off:>11}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
