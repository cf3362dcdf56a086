"""``POST /predict`` without FastAPI's per-request machinery, for the requests that need none of it.

A valid JSON prediction request costs FastAPI's stack (routing, dependency solving, body parsing
through ``Request``, validating the returned model against the response model, then serializing it)
about as long as the bundled model takes to score a sentence (benchmarks/overhead.py). This ASGI
app answers such a request itself: it reads the body, validates it with the route's own schema,
scores it through the same :meth:`~moodline.server.service.ServerState.score` and builds the same
reply (:func:`~moodline.server.routes.predict.predict_reply`), encoded once.

It sits in front of the whole middleware stack (see ``create_app``), not inside it: eight layers of
ASGI wrappers, each wrapping ``send`` once more, cost the event loop a fifth of its time per request
at 32 clients (0.20 against 0.16 ms of CPU a request; benchmarks/serve.py). So it does itself what
those layers would have done to its answers: it names the instance, recycles the connection now and
then, counts and times the request under the route's label, and answers an unexpected failure with
the app's 500. A body declared over the size limit, or sent without a declared length, goes to the
stack, whose body limit answers it.

Whatever is not the plain case goes on to the FastAPI route unchanged, the body replayed: another
content type, a body that is not valid JSON or fails validation, a missing or wrong API key, a
server still loading. So every error a client can cause is still answered, documented and shaped by
the route and its handlers; errors raised while scoring (429, 503, 500) are rendered by the same
function the app's handler uses. The route stays in the OpenAPI schema; the fast path counts its
requests under the route's label.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moodline.core.errors import MoodlineError
from moodline.server.dependencies import key_matches
from moodline.server.errors import internal_error_response, moodline_error_response
from moodline.server.middleware import CLOSE_HEADER, RecyclingPolicy, instance_header
from moodline.server.routes.predict import predict_reply, timing_headers
from moodline.server.schemas import PredictRequest
from moodline.server.service import ServerState

__all__ = ["PredictFastPath"]

PATH = "/predict"
JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})


class PredictFastPath:
    """Answer plain valid ``POST /predict`` requests directly; hand everything else to ``app``."""

    def __init__(self, app: ASGIApp, state: ServerState, *, body_limit: int, recycling: RecyclingPolicy) -> None:
        self.app = app  # the whole middleware stack and FastAPI behind it
        self.state = state
        self.body_limit = body_limit
        self.recycling = recycling
        self.instance_header = instance_header(state.instance)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or not self.state.ready:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if (
            not declared.isdigit()
            or int(declared) > self.body_limit
            or headers.get(b"content-type", b"").lower() not in JSON_TYPES
            or not self._authorized(headers)
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        messages, body = await _read_body(receive)
        request = _parse(body) if body is not None else None
        if request is None:  # FastAPI answers it, with the route's own error (or reads the rest of the body)
            await self.app(scope, _replay(messages, receive), send)
            return
        status = 500
        try:
            status = await self._answer(request, scope, send)
        finally:
            self.state.metrics.observe_request(PATH, "POST", status, time.perf_counter() - started)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        keys = self.state.settings.api_keys
        if not keys:
            return True
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and key_matches(keys, token)

    async def _answer(self, request: PredictRequest, scope: Scope, send: Send) -> int:
        """Score and send the answer; its status."""
        texts, single = request.text_list()
        try:
            result = await self.state.score(texts, request.long_text, request.source)
            reply = predict_reply(self.state, request, result, single)
            content = reply.__pydantic_serializer__.to_json(reply, exclude_none=True)
        except MoodlineError as exc:
            return await self._send_error(moodline_error_response(exc, "POST", PATH), scope, send)
        except Exception:  # noqa: BLE001 - as the app's handler of unexpected errors answers them
            return await self._send_error(internal_error_response("POST", PATH), scope, send)
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in timing_headers(result).items()),
            *self._common_headers(),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})
        return 200

    async def _send_error(self, response: Response, scope: Scope, send: Send) -> int:
        response.raw_headers.extend(self._common_headers())
        await response(scope, _no_body, send)
        return response.status_code

    def _common_headers(self) -> list[tuple[bytes, bytes]]:
        """What the middleware stack adds to every answer: the instance, and now and then a closing connection."""
        if self.recycling.close_now():
            return [self.instance_header, CLOSE_HEADER]
        return [self.instance_header]


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
