"""What every route depends on: the server state, readiness and the API key; the error responses they document."""

from __future__ import annotations

import os
import secrets
import socket
from typing import Annotated

from fastapi import Depends, Request

from moodline.core.settings import Settings
from moodline.server.errors import ApiError
from moodline.server.schemas import ErrorBody
from moodline.server.service import ServerState

__all__ = [
    "ERROR_RESPONSES",
    "StateDep",
    "get_state",
    "instance_id",
    "key_matches",
    "ready_state",
    "require_api_key",
]


def instance_id(settings: Settings) -> str:
    """Names this process behind a load balancer (the X-Moodline-Instance header and /info).

    Worked out per call, never at import: Gunicorn imports its configuration, and with it this
    package, in the master, and every worker forked from it would otherwise carry the master's pid.
    """
    return settings.instance_id or f"{socket.gethostname()}-{os.getpid()}"


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "Missing or wrong API key",
        413: "Body too large",
        422: "Invalid input",
        429: "At capacity: retry after Retry-After seconds",
        503: "Not ready or timed out",
    }.items()
}


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.moodline
    return state


def key_matches(keys: list[str], token: str) -> bool:
    """Whether ``token`` is one of ``keys``, compared in constant time."""
    matched = False
    for key in keys:  # every key, always: the time taken must not reveal which one nearly matched
        matched |= secrets.compare_digest(token.strip().encode(), key.encode())
    return matched


# Dependencies are async on purpose: FastAPI runs plain ``def`` dependencies in a thread pool, which
# costs every request two thread hand-offs for a few attribute lookups.
async def ready_state(request: Request) -> ServerState:
    state = get_state(request)
    if not state.ready:
        raise ApiError(503, "the model is still loading", "not_ready")
    return state


async def require_api_key(request: Request) -> None:
    keys = get_state(request).settings.api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key_matches(keys, token):
        raise ApiError(
            401,
            "missing or invalid API key (send 'Authorization: Bearer <key>')",
            headers={"WWW-Authenticate": "Bearer"},
        )


StateDep = Annotated[ServerState, Depends(ready_state)]
