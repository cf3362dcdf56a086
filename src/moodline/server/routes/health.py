"""Health and introspection: ``/livez``, ``/readyz``, ``/info`` and ``/metrics`` (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from moodline.server.dependencies import StateDep, get_state
from moodline.server.schemas import ErrorBody

__all__ = ["router"]

router = APIRouter()


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process is up and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorBody}})
async def readyz(state: StateDep) -> dict[str, str]:
    """The model is loaded and requests can be served (503 until then)."""
    assert state.engine is not None
    return {"status": "ready", "model": state.engine.info.name, "version": state.engine.info.version}


@router.get("/info")
async def info(state: StateDep) -> dict[str, object]:
    """Model name, version, labels and backend (and the emotion model's, or null), batching and request limits."""
    assert state.engine is not None and state.batcher is not None
    s = state.settings
    return {
        "model": {k: v for k, v in state.engine.info.to_dict().items() if k != "path"},  # no server paths
        "emotion_model": (
            {k: v for k, v in state.emotion_engine.info.to_dict().items() if k != "path"}
            if state.emotion_engine is not None
            else None
        ),
        "batching": {
            "max_batch_size": s.max_batch_size,
            "max_latency_ms": s.max_latency_ms,
            "max_batch_tokens": s.max_batch_tokens,
            "max_queue_size": s.max_queue_size,
            "request_timeout_s": s.request_timeout_s,
        },
        "limits": {
            "max_texts_per_request": s.max_texts_per_request,
            "max_text_chars": s.max_text_chars,
            "max_body_bytes": s.max_body_bytes,
            "max_transcript_files": s.max_transcript_files,
        },
        "cache": state.cache.backend if state.cache is not None else None,
        "auth": bool(s.api_keys),
        "instance": state.instance,
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    state = get_state(request)
    if state.batcher is not None:
        state.metrics.queue_depth.set(state.batcher.queue_depth)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
