"""Open-loop HTTP load at a fixed arrival rate, with latencies that do not hide queueing.

``wrk`` is closed loop: a slow answer delays the next request, so the server is never offered more
than it can take and its queueing hides (coordinated omission). Here request ``i`` is due at
``start + i / rate`` whatever happened before; it goes out on an idle keep-alive connection, or a new
one when all are busy (up to ``max_connections``), and its latency counts from when it was due, not
from when it was sent. The generator is asyncio on uvloop with raw HTTP/1.1 over plain streams: a few
tens of microseconds of CPU per request, under 5 % of a core at the few hundred requests per second
the serving benchmark offers (it reports the rate it really offered, so a generator that fell behind
shows).

    python benchmarks/open_loop.py --url http://127.0.0.1:8000/predict --rate 300 --duration 10 \\
        --body '{"text": "It is worth it"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import numpy as np

__all__ = ["OpenLoopResult", "run_open_loop"]


@dataclass
class OpenLoopResult:
    rate: float  # requests per second asked for
    offered: float  # requests per second really sent (lower when the generator fell behind)
    completed: int
    errors: int  # non-2xx answers and failed connections
    p50_ms: float
    p99_ms: float
    max_ms: float
    connections: int  # opened in all


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send ``request``, read the whole answer; (status, whether the connection stays usable)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status, headers.get("connection") != "close"

    def close(self) -> None:
        self.writer.close()


async def run_open_loop(
    url: str, bodies: Sequence[bytes], rate: float, duration: float, max_connections: int = 512, timeout: float = 10.0
) -> OpenLoopResult:
    """Send ``rate`` POST requests a second to ``url`` for ``duration`` seconds, bodies in turn."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    idle: list[_Connection] = []
    latencies: list[float] = []
    errors = 0
    opened = 0
    in_flight = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal errors, opened, in_flight
        connection = idle.pop() if idle else None
        try:
            if connection is None:
                if in_flight >= max_connections:
                    errors += 1  # the server holds every connection the generator may open
                    return
                opened += 1
                connection = _Connection(*await asyncio.open_connection(host, port))
            in_flight += 1
            try:
                status, reusable = await asyncio.wait_for(connection.exchange(request), timeout)
            finally:
                in_flight -= 1
            latencies.append(time.perf_counter() - due)
            if not 200 <= status < 300:
                errors += 1
            if reusable:
                idle.append(connection)
            else:
                connection.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            errors += 1
            if connection is not None:
                connection.close()

    total = max(1, int(rate * duration))
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for index in range(total):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(requests[index % len(requests)], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_for = time.perf_counter() - started
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 1)
    for connection in idle:
        connection.close()
    values = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    p50, p99 = np.percentile(values, [50, 99])
    return OpenLoopResult(
        rate=rate,
        offered=total / max(sent_for, 1e-9),
        completed=len(latencies),
        errors=errors,
        p50_ms=float(p50),
        p99_ms=float(p99),
        max_ms=float(values.max()),
        connections=opened,
    )


def open_loop(url: str, bodies: Sequence[bytes], rate: float, duration: float) -> OpenLoopResult:
    """:func:`run_open_loop` on a fresh uvloop event loop (asyncio's own when uvloop is missing)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_open_loop(url, bodies, rate, duration))
    return uvloop.run(run_open_loop(url, bodies, rate, duration))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument("--body", action="append", required=True, help="JSON body (repeat to cycle through several)")
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    result = open_loop(args.url, [b.encode() for b in args.body], args.rate, args.duration)
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
