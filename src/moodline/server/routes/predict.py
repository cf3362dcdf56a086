"""Prediction endpoints: ``POST /predict``, ``POST /batch_predict`` and the KServe V1 protocol."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from moodline.core.errors import InvalidInputError
from moodline.inference.three_way import to_two_way
from moodline.server.dependencies import ERROR_RESPONSES, StateDep, require_api_key
from moodline.server.errors import ApiError
from moodline.server.schemas import (
    BatchPredictRequest,
    KServeRequest,
    KServeResponse,
    ModelRef,
    PredictionOut,
    PredictRequest,
    PredictResponse,
)
from moodline.server.service import ScoreResult, ServerState

__all__ = ["predict_reply", "router", "timing_headers"]

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)


def timing_headers(result: ScoreResult) -> dict[str, str]:
    """Where the request's time went (and the logged predictions' ids), as response headers."""
    total, queue, inference = result.total_s * 1000, result.timing.queue_s * 1000, result.timing.inference_s * 1000
    headers = {
        "X-Moodline-Total-Ms": f"{total:.2f}",
        "X-Moodline-Queue-Ms": f"{queue:.2f}",
        "X-Moodline-Inference-Ms": f"{inference:.2f}",
        "X-Moodline-Cache-Hits": str(result.cache_hits),
        "Server-Timing": f"queue;dur={queue:.2f}, inference;dur={inference:.2f}, total;dur={total:.2f}",
    }
    if result.prediction_ids:  # logged predictions: ids for POST /feedback, in input order
        headers["X-Prediction-Id"] = ",".join(result.prediction_ids)
    return headers


def _timing_headers(response: Response, result: ScoreResult) -> None:
    response.headers.update(timing_headers(result))


def _outputs(result: ScoreResult, two_way: bool = False) -> list[PredictionOut]:
    predictions = [to_two_way(p) for p in result.predictions] if two_way else result.predictions
    # Field by field, not through to_dict(): dataclasses.asdict deep-copies every score dict.
    return [
        PredictionOut(label=p.label, score=p.score, scores=p.scores, truncated=p.truncated, chunks=p.chunks)
        for p in predictions
    ]


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


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True)
async def predict(body: PredictRequest, state: StateDep, response: Response) -> PredictResponse:
    """Sentiment of one text or a list: label, score, every label's score and the truncation flag."""
    texts, single = body.text_list()
    result = await state.score(texts, body.long_text, body.source)
    _timing_headers(response, result)
    return predict_reply(state, body, result, single)


def predict_reply(state: ServerState, body: PredictRequest, result: ScoreResult, single: bool) -> PredictResponse:
    """The body of a /predict answer (also built by :class:`~moodline.server.fast_predict.PredictFastPath`)."""
    outputs = _three_way_outputs(state, result) if body.three_way else _outputs(result, body.two_way)
    info = state.served_engine().info
    reply = PredictResponse(predictions=outputs, model=ModelRef(name=info.name, version=info.version))
    if single:
        reply.label, reply.score = outputs[0].label, outputs[0].score
    return reply


@router.post("/batch_predict", response_model=PredictResponse, response_model_exclude_none=True)
async def batch_predict(body: BatchPredictRequest, state: StateDep, response: Response) -> PredictResponse:
    """Sentiment of a list of texts (``{"texts": [...]}``), in order."""
    return await predict(
        PredictRequest(texts=body.texts, long_text=body.long_text, source=body.source), state, response
    )


@router.post("/v1/models/{name}:predict", response_model=KServeResponse)
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
