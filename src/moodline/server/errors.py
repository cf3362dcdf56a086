"""One error body for every 4xx/5xx: ``{"error": {"type", "message", "details"}}``; no internals on 5xx."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from moodline.core.errors import MoodlineError
from moodline.server.batching import QueueFullError

__all__ = ["ApiError", "error_response", "install_error_handlers", "internal_error_response", "moodline_error_response"]

log = logging.getLogger("moodline.server")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "overloaded",
    503: "unavailable",
}


class ApiError(MoodlineError):
    """An error raised by the HTTP layer itself, with an explicit status."""

    def __init__(
        self, status_code: int, message: str, error_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type or _HTTP_TYPES.get(status_code, "error")
        self.headers = headers or {}


def error_response(
    status: int,
    error_type: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"type": error_type, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def moodline_error_response(exc: MoodlineError, method: str, path: str) -> JSONResponse:
    """The answer to ``exc`` raised while serving ``method path``: its status, body and headers."""
    headers = dict(getattr(exc, "headers", {}) or {})
    if isinstance(exc, QueueFullError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if exc.status_code >= 500 and exc.status_code != 503:
        log.error("%s on %s %s: %s", exc.error_type, method, path, exc.message)
    return error_response(exc.status_code, exc.error_type, exc.message, headers=headers)


def internal_error_response(method: str, path: str) -> JSONResponse:
    """The answer to an unexpected failure while serving ``method path``, logged with its traceback
    (call it from the ``except`` block); nothing of it reaches the client."""
    log.exception("unhandled error on %s %s", method, path)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MoodlineError)
    async def moodline_error(request: Request, exc: MoodlineError) -> JSONResponse:
        return moodline_error_response(exc, request.method, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details: list[dict[str, Any]] = []
        for err in exc.errors():
            location = [p for p in err.get("loc", ()) if p != "body"]
            details.append({"loc": location, "message": _clean(str(err.get("msg", "invalid")))})
        message = str(details[0]["message"]) if len(details) == 1 else f"{len(details)} problems in the request"
        return error_response(422, "invalid_input", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code,
            _HTTP_TYPES.get(exc.status_code, "error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        return internal_error_response(request.method, request.url.path)


def _clean(message: str) -> str:
    # pydantic prefixes custom validator messages with "Value error, ".
    return message.removeprefix("Value error, ")
