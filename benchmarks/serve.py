"""Benchmark the moodline HTTP server against the servers users would pick instead, in one run.

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
  one run;
* the peers, serving the bundled model's ``model.onnx`` and ``tokenizer.json`` (benchmarks/peers/):
  ``BentoML`` (a ``batchable=True`` API, adaptive batching) and ``Ray Serve`` (a deployment with
  ``@serve.batch``), each in a virtual environment of its own that this benchmark creates on first use
  under ``~/.cache/moodline-bench/venvs`` (pinned versions; moodline's dependencies are untouched).
  ``--tune-peers`` first tries each peer's grid of workers x threads at 32 connections and keeps the
  best; without it they run with the best settings found so far (written in their files).
  "vs best peer" divides moodline bundled's rate by the best peer's at the same concurrency.

For each moodline model the engine's own throughput and single-sentence latency (benchmarks/engine.py's
measurement, 2 threads, in a fresh process: the bundled model's right before its server in each round,
the DistilBERT-shaped one's before and after its single run) are printed too, and "vs engine" divides
by their mean: what the HTTP layer and batching keep of it.

Rounds: the speed of a shared machine drifts by 10 to 30 % within minutes, more than some of the
differences measured here. So the servers of the bundled model (moodline, moodline with the log, the
peers) and the engine are measured in ``--rounds`` rounds (default 3): in each round every one of
them is started, measured at every level for ``--duration`` seconds, and stopped, in an order that
rotates from round to round; nothing idles beside the server measured (an idle Ray Serve alone takes
about 6 % of two cores). Each row is the mean rate and the median p50/p99 of its rounds, and the
engine's figures the mean rate and median p50 of its passes, so drift weighs on every row alike.
The Flask rows and the DistilBERT-shaped moodline server, which no goal compares, run once, first.

Latency under load: after its closed-loop levels, each server of the bundled model (moodline and the
peers) gets open-loop load at ``--load-fraction`` (default 0.5) of its own capacity (its best
closed-loop rate in that round) for ``--duration`` seconds (benchmarks/open_loop.py: fixed arrival
rate, latency counted from when each request was due), and p50/p99 are printed.

The run ends with the checks the serving goals name: at 1 connection moodline's p50 against the
engine's single-sentence p50 and the peers'; at 32 connections the ratio to the best peer and to the
engine alone; at half load the p99s.

    python benchmarks/serve.py                      # ~12 minutes (peers installed on first use: more)
    python benchmarks/serve.py --duration 3 --rounds 1 --concurrency 1,32 --peers bentoml
    python benchmarks/serve.py --only bundled,peers   # skip the Flask and DistilBERT servers
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import engine as engine_bench  # benchmarks/engine.py: model builders and the engine measurement
from open_loop import OpenLoopResult, open_loop
from peers.environments import ensure_venv

LOGGED = "bundled + log"
BUNDLED = "moodline bundled"
PEERS_DIR = Path(__file__).resolve().parent / "peers"
PARTS = ("reference", "distilbert", "bundled", "peers")

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
    vs_best_peer: float | None = None  # moodline bundled's rate / the best peer's at this concurrency


@dataclass
class Target:
    """A server under test: where it listens and the request body it takes for one sentence."""

    name: str
    port: int
    path: str = "/predict"
    body: Callable[[str], Any] = field(default=lambda sentence: {"text": sentence})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def bodies(self, sentences: Sequence[str]) -> list[bytes]:
        return [json.dumps(self.body(s)).encode() for s in sentences]


@dataclass
class Peer:
    """A peer server: how to start it in its venv, with ``workers`` x ``threads`` (its tuning knobs)."""

    key: str  # its venv's name (benchmarks/peers/environments.py)
    name: str
    path: str
    body: Callable[[str], Any]
    grid: tuple[tuple[int, int], ...]  # (workers, threads) tried by --tune-peers, best known first

    def command(self, python: Path, port: int) -> list[str]:
        if self.key == "bentoml":
            bentoml = str(python.parent / "bentoml")
            return [bentoml, "serve", "bentoml_service:Sentiment", "--host", "127.0.0.1", "--port", str(port)]
        return [str(python), "ray_serve_app.py", "--port", str(port)]


PEERS = {
    "bentoml": Peer("bentoml", "BentoML", "/predict", lambda s: {"texts": [s]}, ((1, 2), (2, 1), (1, 1))),
    "ray": Peer("ray", "Ray Serve", "/", lambda s: {"text": s}, ((1, 2), (2, 1), (1, 1))),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(target: Target, timeout: float = 180.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    body = json.dumps(target.body("warm up")).encode()
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(target.url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"error: {target.name} on port {target.port} did not become ready")


def wait_idle(target: Target) -> None:
    """Wait until requests abandoned by the last wrk run are done.

    wrk stops at the deadline with requests in flight, and a sync Gunicorn worker still finishes
    every connection it accepted: without this, a slow server's backlog from one level would eat
    into the next level's time.
    """
    for _ in range(300):
        started = time.monotonic()
        wait_ready(target, timeout=120)
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


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def ray_worker_pids() -> set[int]:
    """Processes Ray names ``ray::...`` (its actors): they leave their session, so a group kill misses them."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::"):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def wait_gone(pids: set[int], timeout: float = 30.0) -> None:
    """Wait for ``pids`` (actors of a stopped Ray) to exit, as they do once their raylet is gone; kill stragglers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {pid for pid in pids if Path(f"/proc/{pid}").exists()}
        if not pids:
            return
        time.sleep(0.5)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def run_wrk(
    target: Target, concurrency: int, duration: int, bodies: Path, script: Path
) -> tuple[float, float, float, int]:
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
        target.url,
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "BODIES": str(bodies)}, check=True
    ).stdout
    answered, elapsed, unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out).groups()  # type: ignore[union-attr]
    seconds = float(elapsed) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    p50 = _latency_ms(out, "50%")
    p99 = _latency_ms(out, "99%")
    refused = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = refused
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    # Only answered sentences count: wrk's own Requests/sec includes refusals (a server that answers
    # 503 quickly would look fast).
    return (int(answered) - refused) / seconds, p50, p99, errors


def _latency_ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"\s{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@dataclass
class Load:
    """What one server's measurement needs besides the server."""

    levels: list[int]
    duration: int
    sentences: list[str]
    work: Path
    script: Path
    load_fraction: float = 0.0  # 0: no open-loop run


def bodies_file(target: Target, load: Load) -> Path:
    path = load.work / f"bodies-{target.port}.jsonl"
    path.write_bytes(b"\n".join(target.bodies(load.sentences)) + b"\n")
    return path


Measured = tuple[list[Point], OpenLoopResult | None]  # one server's closed-loop levels and open-loop run


def measure_server(target: Target, process: subprocess.Popen[bytes], load: Load, grace_s: float = 30) -> Measured:
    """Closed-loop levels, then (with ``load.load_fraction``) open loop at that share of the best rate."""
    bodies = bodies_file(target, load)
    try:
        wait_ready(target)
        run_wrk(target, max(load.levels), 2, bodies, load.script)  # warm-up: thread pools, allocator, caches
        points = []
        for concurrency in load.levels:
            wait_idle(target)
            engine_bench.progress(f"{target.name}: {concurrency} clients")
            points.append(
                Point(target.name, concurrency, *run_wrk(target, concurrency, load.duration, bodies, load.script))
            )
        under_load = None
        if load.load_fraction > 0:
            capacity = max(p.sentences_per_s for p in points)
            rate = load.load_fraction * capacity
            wait_idle(target)
            engine_bench.progress(f"{target.name}: open loop at {rate:.0f} requests/s")
            under_load = open_loop(target.url, target.bodies(load.sentences), rate, load.duration)
        return points, under_load
    finally:
        stop(process, grace_s)


def serve_moodline(name: str, env: dict[str, str], load: Load) -> Measured:
    """Start ``moodline serve`` (the command the container runs) with ``env``, measure it, stop it."""
    port = free_port()
    server = start([str(Path(sys.executable).parent / "moodline"), "serve", "--port", str(port)], env)
    return measure_server(Target(name, port), server, load)


def merge_rounds(server: str, rounds: list[list[Point]]) -> list[Point]:
    """One point per level from a server's rounds: mean rate, median p50 and p99, errors summed."""
    merged = []
    for level_points in zip(*rounds, strict=True):
        merged.append(
            Point(
                server,
                level_points[0].concurrency,
                statistics.fmean(p.sentences_per_s for p in level_points),
                statistics.median(p.p50_ms for p in level_points),
                statistics.median(p.p99_ms for p in level_points),
                sum(p.errors for p in level_points),
            )
        )
    return merged


def merge_open_loop(rounds: list[OpenLoopResult]) -> OpenLoopResult:
    """A server's open-loop runs as one: mean rates, median p50 and p99, the worst maximum, counts summed."""
    return OpenLoopResult(
        rate=statistics.fmean(r.rate for r in rounds),
        offered=statistics.fmean(r.offered for r in rounds),
        completed=sum(r.completed for r in rounds),
        errors=sum(r.errors for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        max_ms=max(r.max_ms for r in rounds),
        connections=max(r.connections for r in rounds),
    )


@dataclass
class EngineFigures:
    sentences_per_s: float
    p50_ms: float  # one sentence per call


def measure_engine(name: str, model: Path | None, sentences: list[str]) -> EngineFigures:
    """benchmarks/engine.py's figures for ``model`` (None: bundled), 2 threads, in a fresh process."""
    engine_bench.progress(f"{name}: engine alone")
    row = engine_bench.in_fresh_process(engine_bench.time_engine_row, name, model, 2, 32, sentences, 200, 3)
    return EngineFigures(float(row.sentences_per_s), float(row.p50_ms))


def ratio(rate: float, baseline: float) -> float | None:
    return rate / baseline if baseline > 0 else None  # a reference that answered nothing has no ratio


def bundled_model_dir() -> Path:
    from moodline.inference.sources import resolve_local

    directory = resolve_local(None, None)
    if directory is None:
        raise SystemExit("error: the bundled model is missing")
    return Path(directory)


def run_peer(peer: Peer, python: Path, workers: int, threads: int, load: Load) -> Measured:
    port = free_port()
    env = {
        "PEER_MODEL_DIR": str(bundled_model_dir()),
        "PEER_WORKERS": str(workers),
        "PEER_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "RAY_USAGE_STATS_ENABLED": "0",
        "BENTOML_DO_NOT_TRACK": "True",
    }
    before = ray_worker_pids() if peer.key == "ray" else set()
    process = start(peer.command(python, port), env, cwd=PEERS_DIR)
    target = Target(peer.name, port, peer.path, peer.body)
    try:
        return measure_server(target, process, load, grace_s=15)
    finally:
        if peer.key == "ray":
            wait_gone(ray_worker_pids() - before)


def tune_peer(peer: Peer, python: Path, load: Load) -> tuple[int, int]:
    """The (workers, threads) of ``peer.grid`` with the most sentences/s at 32 connections."""
    trial = Load([32], max(3, load.duration // 2), load.sentences, load.work, load.script)
    results = {}
    for workers, threads in peer.grid:
        engine_bench.progress(f"{peer.name}: tuning, {workers} worker(s) x {threads} thread(s)")
        points, _ = run_peer(peer, python, workers, threads, trial)
        results[(workers, threads)] = points[0].sentences_per_s
    engine_bench.progress(f"{peer.name}: {', '.join(f'{w}x{t}: {r:.0f}' for (w, t), r in results.items())}")
    return max(results, key=lambda config: results[config])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=engine_bench.DEFAULT_DATA)
    parser.add_argument("--duration", type=int, default=5, help="seconds per concurrency level and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the bundled model's servers and engine")
    parser.add_argument("--concurrency", default="1,8,32,128", help="comma-separated client counts")
    parser.add_argument("--workers", type=int, default=None, help="moodline Gunicorn workers (default: its own)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads per moodline worker")
    parser.add_argument("--log-rate", type=float, default=0.1, help="prediction log sample rate of the last row")
    parser.add_argument("--peers", default="bentoml,ray", help="comma-separated peers: bentoml, ray ('' for none)")
    parser.add_argument("--tune-peers", action="store_true", help="try each peer's workers x threads grid first")
    parser.add_argument("--load-fraction", type=float, default=0.5, help="open-loop rate / capacity (0: skip)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts to run: {', '.join(PARTS)}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk is not installed (Debian package 'wrk')")
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if parts - set(PARTS):
        parser.error(f"--only takes {', '.join(PARTS)}")
    peer_names = [p.strip() for p in args.peers.split(",") if p.strip()] if "peers" in parts else []
    if set(peer_names) - set(PEERS):
        parser.error(f"--peers takes {', '.join(PEERS)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 0 <= args.load_fraction < 1:
        parser.error("--load-fraction must be in [0, 1)")
    levels = [int(c) for c in args.concurrency.split(",")]
    sentences = engine_bench.load_sentences(args.data, None)
    common = {"MOODLINE_CACHE_SIZE": "0", "TOKENIZERS_PARALLELISM": "false"}
    if args.workers:
        common["MOODLINE_WORKERS"] = str(args.workers)
    if args.threads:
        common["MOODLINE_THREADS"] = str(args.threads)
    # Installed before any timing: pip would otherwise compete with the servers measured first.
    pythons = {name: ensure_venv(name) for name in peer_names}

    points: list[Point] = []
    under_load: dict[str, OpenLoopResult] = {}
    engine_passes: dict[str, list[EngineFigures]] = {}
    tuning: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="moodline-serve-bench-") as tmp:
        work = Path(tmp)
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        load = Load(levels, args.duration, sentences, work, script)
        if "reference" in parts or "distilbert" in parts:
            engine_bench.progress("building the DistilBERT-shaped model and its int8 export")
            hf_dir, _, int8_dir = engine_bench.in_fresh_process(engine_bench.prepare_models, work, None, 2, 32)
            (work / "reference_app.py").write_text(REFERENCE_APP)
        if "reference" in parts:
            for name, torch_threads in (("reference", {}), ("reference tuned", {"REFERENCE_TORCH_THREADS": "1"})):
                port = free_port()
                gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}"]
                reference = start(
                    [*gunicorn, "--timeout", "120", "reference_app:app"],
                    {"REFERENCE_MODEL": str(hf_dir), **torch_threads},
                    cwd=work,
                )
                points += measure_server(Target(name, port), reference, load)[0]
        if "distilbert" in parts:
            # Once, with the engine right before and right after its server (no goal compares it).
            engine_passes["moodline"] = [measure_engine("moodline", int8_dir, sentences)]
            points += serve_moodline("moodline", {**common, "MOODLINE_MODEL": str(int8_dir)}, load)[0]
            engine_passes["moodline"].append(measure_engine("moodline", int8_dir, sentences))

        # The servers of the bundled model, in rounds (see the module docstring).
        contenders: list[tuple[str, Callable[[Load], Measured]]] = []
        if "bundled" in parts:
            bundled_env = {**common, "MOODLINE_MODEL": "bundled"}
            contenders.append((BUNDLED, functools.partial(serve_moodline, BUNDLED, bundled_env)))
            if args.log_rate > 0:
                logging_on = {
                    **bundled_env,
                    "MOODLINE_PREDICTION_SAMPLE_RATE": str(args.log_rate),
                    "MOODLINE_DATA_DIR": str(work / "data"),  # the prediction log's SQLite file
                }
                contenders.append((LOGGED, functools.partial(serve_moodline, LOGGED, logging_on)))
        for key in peer_names:
            peer = PEERS[key]
            tuning[peer.name] = tune_peer(peer, pythons[key], load) if args.tune_peers else peer.grid[0]
            workers, threads = tuning[peer.name]
            contenders.append((peer.name, functools.partial(run_peer, peer, pythons[key], workers, threads)))
        by_round: dict[str, list[Measured]] = {name: [] for name, _ in contenders}
        for number in range(args.rounds):
            shift = number % max(1, len(contenders))
            for name, measure in contenders[shift:] + contenders[:shift]:
                engine_bench.progress(f"round {number + 1} of {args.rounds}: {name}")
                if name == BUNDLED:
                    engine_passes.setdefault(BUNDLED, []).append(measure_engine(BUNDLED, None, sentences))
                fraction = args.load_fraction if name != LOGGED else 0.0  # the log row: closed loop only
                by_round[name].append(measure(Load(levels, args.duration, sentences, work, script, fraction)))
        for name, rounds in by_round.items():
            points += merge_rounds(name, [r[0] for r in rounds])
            loaded = [r[1] for r in rounds if r[1] is not None]
            if loaded:
                under_load[name] = merge_open_loop(loaded)
    engine_rate = {name: sum(p.sentences_per_s for p in passes) / len(passes) for name, passes in engine_passes.items()}
    if BUNDLED in engine_rate:
        engine_rate[LOGGED] = engine_rate[BUNDLED]
    compare(points, engine_rate, [PEERS[k].name for k in peer_names])
    engine_p50 = {name: statistics.median(p.p50_ms for p in passes) for name, passes in engine_passes.items()}
    checks = goal_checks(points, under_load, engine_p50, engine_rate, [PEERS[k].name for k in peer_names])
    if args.json:
        report = {
            "cpu": engine_bench.read_cpu().model,
            "engine_sentences_per_s": engine_rate,
            "engine_p50_ms": engine_p50,
            "engine_passes": {name: [asdict(p) for p in passes] for name, passes in engine_passes.items()},
            "peer_settings": {name: {"workers": w, "threads": t} for name, (w, t) in tuning.items()},
            "under_load": {name: asdict(result) for name, result in under_load.items()},
            "checks": checks,
        }
        print(json.dumps({**report, "points": [asdict(p) for p in points]}, indent=2))
        return 0
    print_report(args, sentences, points, engine_passes, engine_rate, tuning, under_load, checks)
    return 0


def compare(points: list[Point], engine_rate: dict[str, float], peer_names: list[str]) -> None:
    """Fill in each point's ratios to the rows measured beside it."""

    def rates(server: str) -> dict[int, float]:
        return {p.concurrency: p.sentences_per_s for p in points if p.server == server}

    reference_rate, tuned_rate, unlogged_rate = rates("reference"), rates("reference tuned"), rates(BUNDLED)
    peer_rates = [rates(name) for name in peer_names]
    for point in points:
        if point.server == LOGGED and point.concurrency in unlogged_rate:
            point.vs_log_off = ratio(point.sentences_per_s, unlogged_rate[point.concurrency])
        if point.server != "reference" and point.concurrency in reference_rate:
            point.vs_reference = ratio(point.sentences_per_s, reference_rate[point.concurrency])
        if point.server.startswith("moodline") and point.concurrency in tuned_rate:
            point.vs_tuned_reference = ratio(point.sentences_per_s, tuned_rate[point.concurrency])
        if point.server in engine_rate:
            point.vs_engine = point.sentences_per_s / engine_rate[point.server]
        best_peer = max((r.get(point.concurrency, 0.0) for r in peer_rates), default=0.0)
        if point.server == BUNDLED and best_peer > 0:
            point.vs_best_peer = point.sentences_per_s / best_peer


def goal_checks(
    points: list[Point],
    under_load: dict[str, OpenLoopResult],
    engine_p50: dict[str, float],
    engine_rate: dict[str, float],
    peer_names: list[str],
) -> list[dict[str, Any]]:
    """The serving goals, each with the figures it compares and whether this run met it."""
    at = {(p.server, p.concurrency): p for p in points}
    checks: list[dict[str, Any]] = []
    lone = at.get((BUNDLED, 1))
    if lone is not None and BUNDLED in engine_p50:
        gap = lone.p50_ms - engine_p50[BUNDLED]
        checks.append(
            {
                "goal": "1 connection: p50 within 1.5 ms of the engine's single-sentence p50",
                "moodline_ms": lone.p50_ms,
                "engine_ms": engine_p50[BUNDLED],
                "met": gap <= 1.5,
            }
        )
        peers = {name: at[(name, 1)].p50_ms for name in peer_names if (name, 1) in at}
        if peers:
            checks.append(
                {
                    "goal": "1 connection: p50 below every peer's",
                    "moodline_ms": lone.p50_ms,
                    "peers_ms": peers,
                    "met": all(lone.p50_ms < v for v in peers.values()),
                }
            )
    busy = at.get((BUNDLED, 32))
    if busy is not None:
        if busy.vs_best_peer is not None:
            checks.append(
                {
                    "goal": "32 connections: at least 1.8x the best peer",
                    "ratio": busy.vs_best_peer,
                    "met": busy.vs_best_peer >= 1.8,
                }
            )
        if BUNDLED in engine_rate:
            share = busy.sentences_per_s / engine_rate[BUNDLED]
            checks.append(
                {"goal": "32 connections: at least 85 % of the engine alone", "share": share, "met": share >= 0.85}
            )
    if BUNDLED in under_load:
        peers = {name: under_load[name].p99_ms for name in peer_names if name in under_load}
        if peers:
            mine = under_load[BUNDLED].p99_ms
            checks.append(
                {
                    "goal": "half load: p99 below every peer's",
                    "moodline_ms": mine,
                    "peers_ms": peers,
                    "met": all(mine < v for v in peers.values()),
                }
            )
    return checks


def print_report(
    args: argparse.Namespace,
    sentences: list[str],
    points: list[Point],
    engine_passes: dict[str, list[EngineFigures]],
    engine_rate: dict[str, float],
    tuning: dict[str, tuple[int, int]],
    under_load: dict[str, OpenLoopResult],
    checks: list[dict[str, Any]],
) -> None:
    print(
        f"{engine_bench.read_cpu().model}, {os.cpu_count()} cores; {len(sentences)} SST-2 dev sentences, one per "
        f"request, {args.duration}s per level, wrk closed loop, {args.rounds} round(s) of the bundled model's "
        f"servers; moodline: {args.workers or 'default'} worker(s), "
        f"{args.threads or 'default'} inference thread(s) each"
    )
    for name, passes in engine_passes.items():
        rates = " and ".join(f"{p.sentences_per_s:.0f}" for p in passes)
        p50s = " and ".join(f"{p.p50_ms:.2f}" for p in passes)
        print(
            f"engine alone, {name}: {engine_rate[name]:.0f} sentences/s (passes: {rates}); "
            f"one sentence per call p50 {p50s} ms"
        )
    for name, (workers, threads) in tuning.items():
        print(
            f"{name}: {workers} worker(s) x {threads} ONNX Runtime thread(s)"
            + (" (tuned in this run)" if args.tune_peers else "")
        )
    print()
    header = (
        f"{'server':<18}{'clients':>8}{'sent/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs ref':>8}"
        f"{'vs tuned':>9}{'vs engine':>10}{'vs log off':>11}{'vs peers':>9}"
    )
    print(header + "\n" + "-" * len(header))
    for p in points:
        ref = f"{p.vs_reference:.2f}x" if p.vs_reference else ("1.00x" if p.server == "reference" else "")
        tuned = f"{p.vs_tuned_reference:.2f}x" if p.vs_tuned_reference else ""
        eng = f"{p.vs_engine:.0%}" if p.vs_engine else ""
        log_off = f"{p.vs_log_off:.2f}x" if p.vs_log_off else ""
        peers = f"{p.vs_best_peer:.2f}x" if p.vs_best_peer else ""
        print(
            f"{p.server:<18}{p.concurrency:>8}{p.sentences_per_s:>9.1f}{p.p50_ms:>9.2f}{p.p99_ms:>9.2f}"
            f"{p.errors:>8}{ref:>8}{tuned:>9}{eng:>10}{log_off:>11}{peers:>9}"
        )
    if under_load:
        print(f"\nopen loop at {args.load_fraction:.0%} of each server's capacity (its best closed-loop rate):")
        print(f"{'server':<18}{'req/s':>8}{'offered':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
        for name, r in under_load.items():
            print(
                f"{name:<18}{r.rate:>8.1f}{r.offered:>9.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.max_ms:>9.1f}{r.errors:>8}"
            )
    if checks:
        print("\nserving goals:")
        for check in checks:
            figures = ", ".join(f"{k} {_figure(v)}" for k, v in check.items() if k not in {"goal", "met"})
            print(f"  [{'met' if check['met'] else 'NOT met'}] {check['goal']}: {figures}")


def _figure(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {v:.2f}" for k, v in value.items()) + "}"
    return f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
