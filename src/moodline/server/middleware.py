"""ASGI middleware: request body limit (413) and per-route metrics, without buffering responses."""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moodline.server.errors import error_response
from moodline.server.metrics import Metrics

__all__ = [
    "BodySizeLimit",
    "ConnectionRecycling",
    "InstanceHeader",
    "RecyclingPolicy",
    "RequestMetrics",
    "instance_header",
]


# How much of a refused body the server reads and throws away, and for how long, so that the 413 reaches
# clients that send their whole body before they read anything (Python's urllib, many simple HTTP
# libraries): closing a connection with unread data makes the kernel reset it, and such a client sees
# the reset instead of the answer. Past either bound the connection closes anyway: a client cannot make
# the server read gigabytes, or hold a connection open, for a request it has already refused.
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes with 413.

    A declared Content-Length is checked at once. A body without one (chunked) is read up to the
    limit before the app sees it and then replayed, so the app never parses a cut-off body.

    The 413 goes out in full at once (clients that read while they send, like curl and httpx, stop
    sending), then the rest of the body is read and discarded, up to ``drain_bytes`` in all and
    ``drain_seconds``, before the response ends and the connection closes. A body declared larger than
    ``drain_bytes``, or one the client waits to send (``Expect: 100-continue``), is not read at all.
    """

    def __init__(
        self, app: ASGIApp, limit: int, *, drain_bytes: int = DRAIN_BYTES, drain_seconds: float = DRAIN_SECONDS
    ) -> None:
        self.app = app
        self.limit = limit
        self.drain_bytes = drain_bytes
        self.drain_seconds = drain_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                waits = headers.get(b"expect", b"").lower() == b"100-continue"
                await self._refuse(receive, send, read=0, drain=int(declared) <= self.drain_bytes and not waits)
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
                await self._refuse(receive, send, read=size, drain=bool(message.get("more_body", False)))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, receive: Receive, send: Send, *, read: int, drain: bool) -> None:
        """Send the 413; with ``drain``, read on (``read`` bytes so far) before ending it, within the bounds."""
        # Connection: close, as the rest of the body may stay unread: this connection cannot carry another request.
        response = error_response(
            413, "payload_too_large", f"request body exceeds {self.limit:,} bytes", headers={"connection": "close"}
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        # The whole answer is on the wire now, but the response stays open: once it ends, the ASGI server
        # hands out no more of the request body, and closes the connection on what is left of it.
        await send({"type": "http.response.body", "body": bytes(response.body), "more_body": drain})
        if not drain:
            return
        with anyio.move_on_after(self.drain_seconds):
            while read <= self.drain_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    break  # the client hung up, having read the answer or not
                read += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        await send({"type": "http.response.body", "body": b"", "more_body": False})


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
            self.metrics.observe_request(name, scope.get("method", ""), status, time.perf_counter() - started)


def instance_header(instance: str) -> tuple[bytes, bytes]:
    """The response header naming the replica that answered."""
    return (b"x-moodline-instance", instance.encode())


class InstanceHeader:
    """Name the replica that answered (``X-Moodline-Instance``), to see load balancing at work."""

    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.header = instance_header(instance)

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
CLOSE_HEADER = (b"connection", b"close")


class RecyclingPolicy:
    """Whether to close the connection after this response: at random, once in ``mean_requests``."""

    def __init__(self, mean_requests: int) -> None:
        self.probability = 1 / mean_requests if mean_requests > 0 else 0.0

    def close_now(self) -> bool:
        return random.random() < self.probability


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
        self.policy = RecyclingPolicy(mean_requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Health probes keep their connection: a prober's reconnect would only add to its latency.
        if scope["type"] != "http" or not self.policy.probability or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return

        async def maybe_close(message: Message) -> None:
            if message["type"] == "http.response.start" and self.policy.close_now():
                message["headers"] = [*message.get("headers", []), CLOSE_HEADER]
            await send(message)

        await self.app(scope, receive, maybe_close)
