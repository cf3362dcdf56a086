"""``POST /predict`` without FastAPI's per-request machinery, for the requests that need none of it.

A valid JSON prediction request costs FastAPI's stack (routing, dependency solving, body parsing
through ``Request``, validating the returned model against the response model, then serializing it)
about as long as the bundled model takes to score a sentence (benchmarks/overhead.py). This ASGI
middleware answers such a request itself: it reads the body, validates it with the route's own
schema, scores it through the same :meth:`~moodline.server.service.ServerState.score` and builds the
same reply (:func:`~moodline.server.routes.predict.predict_reply`), encoded once.

Whatever is not the plain case goes on to the FastAPI route unchanged, the body replayed: another
content type, a body that is not valid JSON or fails validation, a missing or wrong API key, a
server still loading. So every error a client can cause is still answered, documented and shaped by
the route and its handlers; errors raised while scoring (429, 503, 500) are rendered by the same
function the app's handler uses. The route stays in the OpenAPI schema, and the request is labelled
with it for the metrics.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moodline.core.errors import MoodlineError
from moodline.server.dependencies import key_matches
from moodline.server.errors import moodline_error_response
from moodline.server.routes.predict import predict_reply, timing_headers
from moodline.server.schemas import PredictRequest
from moodline.server.service import ServerState

__all__ = ["PredictFastPath"]

PATH = "/predict"
JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})


class PredictFastPath:
    """Answer plain valid ``POST /predict`` requests directly; hand everything else to ``app``."""

    def __init__(self, app: ASGIApp, state: ServerState, route: BaseRoute) -> None:
        self.app = app
        self.state = state
        self.route = route  # the FastAPI route it stands in for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or not self.state.ready:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").lower() not in JSON_TYPES or not self._authorized(headers):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        request = _parse(body) if body is not None else None
        if request is None:  # FastAPI answers it, with the route's own error (or reads the rest of the body)
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = self.route  # for RequestMetrics' label, as the router would set it
        await self._answer(request, scope, send)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        keys = self.state.settings.api_keys
        if not keys:
            return True
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and key_matches(keys, token)

    async def _answer(self, request: PredictRequest, scope: Scope, send: Send) -> None:
        texts, single = request.text_list()
        try:
            result = await self.state.score(texts, request.long_text, request.source)
        except MoodlineError as exc:
            await moodline_error_response(exc, "POST", PATH)(scope, _no_body, send)
            return
        reply = predict_reply(self.state, request, result, single)
        content = reply.__pydantic_serializer__.to_json(reply, exclude_none=True)
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in timing_headers(result).items()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body; body None when the client went away first."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _parse(body: bytes) -> PredictRequest | None:
    # As FastAPI does it: json.loads, then the model validates the Python value (not pydantic's JSON
    # mode, whose lax rules differ a little), so the fast path accepts exactly what the route accepts.
    try:
        value: Any = json.loads(body)
        return PredictRequest.model_validate(value)
    except (ValueError, ValidationError):  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
