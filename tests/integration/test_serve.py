"""`moodline serve` as a real process: graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import httpx
import pytest

from tests.servers import free_port, start_moodline, wait_for_port

pytestmark = pytest.mark.integration


def test_sigterm_drains_requests_in_flight(tiny_onnx_model):
    port = free_port()
    # A 2 s batching window keeps the whole burst queued inside the server when SIGTERM arrives.
    server = start_moodline(tiny_onnx_model, port, max_latency_ms="2000", max_batch_size="1000")
    try:
        wait_for_port(port, timeout=60)

        async def burst() -> list[httpx.Response | Exception]:
            limits = httpx.Limits(max_connections=60)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
                assert (await client.get("/readyz")).status_code == 200
                requests = [
                    asyncio.create_task(client.post("/predict", json={"text": f"in flight {i}"})) for i in range(50)
                ]
                # SIGTERM only once the server holds all 50: connections it never accepted are the load
                # balancer's to reroute, not the drain's to finish.
                for _ in range(100):
                    metrics = (await client.get("/metrics")).text
                    if "moodline_queue_depth 50.0" in metrics:
                        break
                    await asyncio.sleep(0.02)
                else:
                    pytest.fail("the burst never filled the queue")
                os.killpg(server.pid, signal.SIGTERM)
                return await asyncio.gather(*requests, return_exceptions=True)

        results = asyncio.run(burst())
        statuses = [r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in results]
        assert statuses == [200] * 50, statuses
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)


def wait_for_workers(port: int) -> None:
    """The port opens with the first worker; wait until a worker answers ready."""
    wait_for_port(port, timeout=60)
    for _ in range(100):
        if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
            return
        time.sleep(0.05)


def test_metrics_sum_every_worker(tiny_onnx_model):
    port = free_port()
    server = start_moodline(tiny_onnx_model, port, workers="2", cache_size="0")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_workers(port)
        for i in range(40):  # a new connection each: the kernel spreads them over the workers
            with httpx.Client(base_url=base) as client:
                assert client.post("/predict", json={"text": f"counted {i}"}).status_code == 200
        totals = set()
        for _ in range(10):
            with httpx.Client(base_url=base) as client:
                metrics = client.get("/metrics").text
            totals.add(
                sum(
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith("moodline_http_requests_total{") and 'route="/predict"' in line
                )
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert totals == {40.0}  # whichever worker answers the scrape reports both workers' requests


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` on this machine (from the kernel's own table)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, state = fields[1], fields[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port  # 0A: LISTEN
    return count


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux (SO_REUSEPORT balancing)")
def test_each_worker_listens_on_a_socket_of_its_own(tiny_onnx_model):
    """So the kernel spreads connections over the workers; a shared socket went to whoever woke first."""
    port = free_port()
    server = start_moodline(tiny_onnx_model, port, workers="3")
    try:
        wait_for_workers(port)
        deadline = time.monotonic() + 60
        while listening_sockets(port) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listening_sockets(port) == 3
        # The same port stays closed to any other server, moodline or not.
        second = start_moodline(tiny_onnx_model, port)
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"127.0.0.1:{port} is already in use" in stderr.decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_recycled_connections_spread_over_the_workers(tiny_onnx_model):
    """Keep-alive connections are closed now and then, reconnect, and the load stays on both workers."""
    port = free_port()
    server = start_moodline(tiny_onnx_model, port, workers="2", keepalive_requests="10", instance_id="")
    base = f"http://127.0.0.1:{port}"

    closed = 0

    async def load() -> Counter[str]:
        nonlocal closed
        later: Counter[str] = Counter()

        async def connection(client: httpx.AsyncClient, i: int) -> None:
            nonlocal closed
            for k in range(120):
                response = await client.post("/predict", json={"text": f"spread {i} {k}"})
                assert response.status_code == 200
                closed += response.headers.get("connection") == "close"
                if k >= 60:
                    later[response.headers["x-moodline-instance"]] += 1

        clients = [httpx.AsyncClient(base_url=base, timeout=30) for _ in range(16)]
        try:
            await asyncio.gather(*(connection(c, i) for i, c in enumerate(clients)))
        finally:
            for client in clients:
                await client.aclose()
        return later

    try:
        wait_for_workers(port)
        later = asyncio.run(load())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert 100 <= closed <= 300  # about 1 in 10 of the 1,920 responses (keepalive_requests=10)
    assert len(later) == 2 and min(later.values()) >= 0.25 * sum(later.values()), later
