"""ASGI middleware: request body limit (413) and per-route metrics, without buffering responses."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

__all__ = ["BodySizeLimit", "InstanceHeader", "RequestMetrics"]


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"type": "payload_too_large", "message": f"request body exceeds {limit:,} bytes", "details": []}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes with 413.

    A declared Content-Length is checked at once. A body without one (chunked) is read up to the
    limit before the app sees it and then replayed, so the app never parses a cut-off body.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                await _send_413(send, self.limit)
                return
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await _send_413(send, self.limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


class RequestMetrics:
    """Count and time every HTTP request by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route: Any = scope.get("route")
            # Templates, not raw paths, so unknown URLs cannot blow up label cardinality.
            name = getattr(route, "path", None) or "unmatched"
            labels = (name, scope.get("method", ""), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


class InstanceHeader:
    """Name the replica that answered (``X-Moodline-Instance``), to see load balancing at work."""

    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.header = (b"x-moodline-instance", instance.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, add_header)


PROBE_PATHS = frozenset({"/livez", "/readyz"})


class ConnectionRecycling:
    """Close a keep-alive connection after about ``mean_requests`` requests (at random, so no state).

    Keep-alive pins a client to the worker (or, behind a load balancer, the replica) that accepted
    its connection, so however connections were first spread stays for as long as the clients live.
    The kernel spreads the workers' connections by address hash, fair on average but 13/19 or worse
    for 32 connections now and then. A closed connection reconnects and is placed afresh, so a
    lopsided split evens out within a few hundred requests instead of lasting all day. nginx's
    ``keepalive_requests`` (1000 by default) does the same to its clients.
    """

    def __init__(self, app: ASGIApp, mean_requests: int) -> None:
        self.app = app
        self.probability = 1 / mean_requests if mean_requests > 0 else 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Health probes keep their connection: a prober's reconnect would only add to its latency.
        if scope["type"] != "http" or not self.probability or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return

        async def maybe_close(message: Message) -> None:
            if message["type"] == "http.response.start" and random.random() < self.probability:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, maybe_close)
