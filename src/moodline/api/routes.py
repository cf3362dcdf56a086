"""The HTTP endpoints."""

from __future__ import annotations

import os
import secrets
import socket
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from ..errors import InvalidInputError
from ..three_way import to_two_way
from .errors import ApiError
from .schemas import (
    BatchPredictRequest,
    ErrorBody,
    KServeRequest,
    KServeResponse,
    ModelRef,
    PredictionOut,
    PredictRequest,
    PredictResponse,
)
from .service import ScoreResult, ServerState

__all__ = ["INSTANCE_ID", "router"]

# Identifies the replica behind a load balancer (X-Moodline-Instance header).
INSTANCE_ID = os.environ.get("MOODLINE_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}"

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
router = APIRouter()
protected = APIRouter(dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)


def _timing_headers(response: Response, result: ScoreResult) -> None:
    total, queue, inference = result.total_s * 1000, result.timing.queue_s * 1000, result.timing.inference_s * 1000
    response.headers["X-Moodline-Total-Ms"] = f"{total:.2f}"
    response.headers["X-Moodline-Queue-Ms"] = f"{queue:.2f}"
    response.headers["X-Moodline-Inference-Ms"] = f"{inference:.2f}"
    response.headers["X-Moodline-Cache-Hits"] = str(result.cache_hits)
    response.headers["Server-Timing"] = f"queue;dur={queue:.2f}, inference;dur={inference:.2f}, total;dur={total:.2f}"
    if result.prediction_ids:  # logged predictions: ids for POST /feedback, in input order
        response.headers["X-Prediction-Id"] = ",".join(result.prediction_ids)


def _outputs(result: ScoreResult, two_way: bool = False) -> list[PredictionOut]:
    predictions = [to_two_way(p) for p in result.predictions] if two_way else result.predictions
    return [PredictionOut(**p.to_dict()) for p in predictions]


def _three_way_outputs(state: ServerState, result: ScoreResult) -> list[PredictionOut]:
    return [
        PredictionOut(
            label=p.label,
            score=abs(p.sentiment),
            scores=p.scores,
            truncated=p.truncated,
            chunks=p.chunks,
            sentiment=p.sentiment,
        )
        for p in state.three_way_scorer().from_predictions(result.predictions)
    ]


@protected.post("/predict", response_model=PredictResponse, response_model_exclude_none=True)
async def predict(body: PredictRequest, state: StateDep, response: Response) -> PredictResponse:
    """Sentiment of one text or a list: label, score, every label's score and the truncation flag."""
    texts, single = body.text_list()
    result = await state.score(texts, body.long_text)
    _timing_headers(response, result)
    outputs = _three_way_outputs(state, result) if body.three_way else _outputs(result, body.two_way)
    assert state.engine is not None
    info = state.engine.info
    reply = PredictResponse(predictions=outputs, model=ModelRef(name=info.name, version=info.version))
    if single:
        reply.label, reply.score = outputs[0].label, outputs[0].score
    return reply


@protected.post("/batch_predict", response_model=PredictResponse, response_model_exclude_none=True)
async def batch_predict(body: BatchPredictRequest, state: StateDep, response: Response) -> PredictResponse:
    """Sentiment of a list of texts (``{"texts": [...]}``), in order."""
    return await predict(PredictRequest(texts=body.texts, long_text=body.long_text), state, response)


@protected.post("/v1/models/{name}:predict", response_model=KServeResponse)
async def kserve_predict(name: str, body: KServeRequest, state: StateDep, response: Response) -> KServeResponse:
    """KServe V1 inference protocol: ``{"instances": [...]}`` in, ``{"predictions": [...]}`` out."""
    assert state.engine is not None
    if name not in {state.engine.info.name, "moodline"}:
        raise ApiError(
            404, f"model {name!r} is not served here (this server serves {state.engine.info.name!r})", "model_not_found"
        )
    try:
        texts = body.text_list()
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    result = await state.score(texts)
    _timing_headers(response, result)
    return KServeResponse(predictions=_outputs(result))


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
    """Model name, version, labels and backend, and the server's batching and request limits."""
    assert state.engine is not None and state.batcher is not None
    s = state.settings
    return {
        "model": {k: v for k, v in state.engine.info.to_dict().items() if k != "path"},  # no server paths
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
        },
        "cache": state.cache.backend if state.cache is not None else None,
        "auth": bool(s.api_keys),
        "instance": INSTANCE_ID,
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    state = get_state(request)
    if state.batcher is not None:
        state.metrics.queue_depth.set(state.batcher.queue_depth)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


router.include_router(protected)
