"""Overload: a real `moodline serve` offered 4x its measured capacity, open loop, for a bounded time.

Every request must end 200, 429 or 503 (no other status, no connection error, none left hanging),
and `/livez` must keep answering throughout, because probes that time out get a healthy but busy
instance restarted, which turns overload into an outage.

The model is a random-weight BERT big enough that inference, not HTTP, limits the server (about a
hundred sentences/s on one thread), so a Python load generator can offer 4x its capacity; the test
checks that it did.

The machine may be busy with other work (CI, a training run): the checks compare what the server did
with what it measured in the same run (its capacity, its own engine time per batch), not with fixed
times, and speed itself is the benchmarks' business.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.servers import free_port, start_moodline, wait_for_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OVERLOAD_FACTOR = 4
OVERLOAD_SECONDS = 6.0


def liveness_timeout_s() -> float:
    """The shipped liveness probe's timeout: a slower /livez gets a healthy, busy pod restarted."""
    deployment = yaml.safe_load((ROOT / "deploy/k8s/base/deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    return float(container["livenessProbe"]["timeoutSeconds"])


@pytest.fixture(scope="module")
def compute_bound_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from moodline.inference.sources import resolve_local
    from moodline.training.export import export_model

    torch.manual_seed(0)
    source = tmp_path_factory.mktemp("compute-bound-hf")
    config = BertConfig(hidden_size=512, num_hidden_layers=6, num_attention_heads=8, intermediate_size=2048)
    BertForSequenceClassification(config).save_pretrained(source)
    tokenizer = AutoTokenizer.from_pretrained(resolve_local("sentence-transformers/all-MiniLM-L6-v2"))
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.save_pretrained(source)
    target = tmp_path_factory.mktemp("compute-bound-onnx") / "model"
    export_model(source, target, name="compute-bound", min_agreement=0.0)  # random weights: agreement is noise
    return target


def sentence(i: int) -> str:
    # Unique texts of SST-2-like lengths (8 to 30 words), so neither the cache nor one length helps.
    words = ["the", "film", "was", "quietly", "moving", "and", "a", "little", "too", "long", "for", "me"]
    return f"review {i}: " + " ".join(words[(i + k) % len(words)] for k in range(8 + i % 23))


def new_session(base: str) -> aiohttp.ClientSession:
    # The load generator must be cheap enough to offer 4x the server's capacity from the one core the
    # server leaves: httpx's pool, at a thousand connections, kept requests waiting in the client for
    # up to 40 s (the server saw a trickle, not the overload). aiohttp's C parser and pool keep up.
    # Idle connections expire on the client (4 s) long before the server closes them (75 s).
    connector = aiohttp.TCPConnector(limit=4000, keepalive_timeout=4.0)
    return aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def closed_loop_rate(base: str, clients: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def client_loop(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            async with session.post("/predict", json={"text": sentence(i)}) as response:
                # 503: on a machine slower than usual a request may wait past the 2 s timeout even
                # at this load. It is not capacity, but it is the server behaving as documented.
                assert response.status in (200, 503), await response.text()
                await response.read()
            done += response.status == 200
            i += clients

    async with new_session(base) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(session, 10_000 + c) for c in range(clients)))
        return done / (time.perf_counter() - started)


async def open_loop(base: str, rate: float, seconds: float) -> tuple[list[int | str], float, list[float]]:
    """Send at a fixed rate whatever the answers; each request's status or error name, how late the
    last request left (a load generator that falls behind does not offer what it claims), and the
    engine time of the batch behind each 200 (its X-Moodline-Inference-Ms)."""
    engine_s: list[float] = []
    async with new_session(base) as session:

        async def one(i: int) -> int | str:
            try:
                async with session.post("/predict", json={"text": sentence(i)}) as response:
                    await response.read()
                    if response.status == 200:
                        engine_s.append(float(response.headers["x-moodline-inference-ms"]) / 1000)
                    return response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                return type(exc).__name__

        tasks = []
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        behind = time.perf_counter() - started - seconds
        return list(await asyncio.gather(*tasks)), behind, engine_s


# The probe runs in a process of its own, like a kubelet: in the load generator's process it would
# wait for the GIL behind the generator and measure the test, not the server.
PROBE = """
import http.client, json, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
latencies, failures = [], []
stop = time.monotonic() + seconds
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
while time.monotonic() < stop:
    started = time.perf_counter()
    try:
        connection.request("GET", "/livez")
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            failures.append(str(response.status))
    except OSError as exc:
        failures.append(type(exc).__name__)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    time.sleep(0.05)
print(json.dumps({"latencies": latencies, "failures": failures}))
"""


def start_livez_probe(port: int, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PROBE, str(port), str(seconds)], stdout=subprocess.PIPE, text=True)


def test_overload_ends_every_request_200_429_or_503_and_livez_never_waits_for_inference(compute_bound_model):
    port = free_port()
    # The 2 s timeout (default 10 s) keeps the bounded run short; the behaviour is the same.
    server = start_moodline(compute_bound_model, port, cache_size="0", request_timeout_s="2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=60)
        # The first pass meets every (batch, length) shape cold; only the second measures capacity.
        asyncio.run(closed_loop_rate(base, clients=64, seconds=2.0))
        capacity = asyncio.run(closed_loop_rate(base, clients=64, seconds=3.0))
        assert capacity > 0, "no request of the closed loop was answered 200"
        probe = start_livez_probe(port, OVERLOAD_SECONDS + 1)
        outcomes, behind, engine_s = asyncio.run(open_loop(base, OVERLOAD_FACTOR * capacity, OVERLOAD_SECONDS))
        probed = json.loads(probe.communicate(timeout=30)[0])
        still_alive = httpx.get(f"{base}/livez", timeout=5).status_code
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    counts = Counter(outcomes)
    latencies, failures = probed["latencies"], probed["failures"]
    slowest_livez = max(latencies)
    livez_p95 = statistics.quantiles(latencies, n=20)[-1]
    batch_s = statistics.median(engine_s) if engine_s else float("nan")
    # The rate actually offered: a generator that falls behind sends the same requests over a longer time.
    offered = len(outcomes) / (OVERLOAD_SECONDS + max(behind, 0.0))
    print(  # noqa: T201 - shown with -s; the figures quoted in the README come from here
        f"\ncapacity {capacity:.1f} req/s; offered {OVERLOAD_FACTOR * capacity:.1f} req/s for {OVERLOAD_SECONDS:.0f} s "
        f"= {len(outcomes)} requests (last sent {behind:+.2f} s late, so {offered / capacity:.1f}x capacity): "
        f"{dict(counts)}; engine {1000 * batch_s:.0f} ms per batch (median); /livez {len(latencies)} probes, "
        f"p50 {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * livez_p95:.1f} ms, "
        f"max {1000 * slowest_livez:.1f} ms"
    )
    # Overload was offered: at least twice what the server can do, even if a busy machine slowed the
    # generator (a generator that cannot keep up, like httpx's pool here once, offers a trickle).
    assert offered >= 2 * capacity, f"the load generator offered {offered / capacity:.1f}x capacity, not an overload"
    assert set(counts) <= {200, 429, 503}, counts  # no other status, no connection error, no client timeout
    assert counts[200] > 0 and counts[429] + counts[503] > 0, counts  # it served, and it was overloaded
    assert counts[200] >= 0.5 * capacity * OVERLOAD_SECONDS, counts  # overload did not collapse the goodput
    assert not failures, failures
    assert len(latencies) >= OVERLOAD_SECONDS / 0.2  # probed all along, not a few times
    # Inference runs on its own thread, so /livez waits for the event loop, never for a batch. Were it
    # to wait for the engine, which is busy all through an overload, most probes would wait for the
    # rest of a batch (the slowest 5 % nearly a whole one). Both sides slow down alike on a busy machine.
    assert livez_p95 < batch_s / 2, f"/livez p95 {1000 * livez_p95:.0f} ms, an engine batch {1000 * batch_s:.0f} ms"
    # And no probe was slow enough to fail the liveness probe that ships, which would restart the pod.
    assert slowest_livez < liveness_timeout_s(), f"/livez took {1000 * slowest_livez:.0f} ms"
    assert still_alive == 200
