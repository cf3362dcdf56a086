"""The FastAPI application factory.

Example::

    from moodline.server import create_app
    app = create_app()                       # settings from MOODLINE_* / .env, bundled model
    # uvicorn.run(app) or: moodline serve
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from moodline import __version__
from moodline.core.settings import Settings, get_settings
from moodline.inference.bucketing import DEFAULT_CALL_COST_TOKENS
from moodline.inference.emotions import EmotionScorer
from moodline.inference.engine import Engine
from moodline.inference.sources import EMOTION_MODEL_NAME
from moodline.lifecycle.hooks import start_lifecycle, stop_lifecycle
from moodline.server.batching import DynamicBatcher
from moodline.server.cache import LRUCache, PredictionCache, RedisCache
from moodline.server.dependencies import instance_id
from moodline.server.errors import install_error_handlers
from moodline.server.fast_predict import PredictFastPath
from moodline.server.metrics import Metrics
from moodline.server.middleware import (
    BodySizeLimit,
    ConnectionRecycling,
    InstanceHeader,
    RecyclingPolicy,
    RequestMetrics,
)
from moodline.server.routes import health, predict
from moodline.server.routes.conversations import router as conversations_router
from moodline.server.routes.feedback import router as feedback_router
from moodline.server.service import ServerState
from moodline.server.web import mount_web
from moodline.server.worker_load import this_workers_board

__all__ = ["create_app"]

log = logging.getLogger("moodline.server")


class _FastAPIWithFront(FastAPI):
    """FastAPI with one ASGI app in front of its whole middleware stack (the /predict fast path, whose
    answers need none of the stack: see moodline.server.fast_predict)."""

    def __init__(self, front: Callable[[ASGIApp], ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = front

    def build_middleware_stack(self) -> ASGIApp:
        return self._front(super().build_middleware_stack())


def build_cache(settings: Settings) -> PredictionCache | None:
    if settings.redis_url:
        return RedisCache(settings.redis_url, timeout_ms=settings.redis_timeout_ms, ttl_s=settings.cache_ttl_s)
    return LRUCache(settings.cache_size) if settings.cache_size > 0 else None


def load_emotion_engine(settings: Settings) -> Engine:
    """The emotion model a server runs: ``settings.emotion_model`` (default: the shipped one), run as the
    sentiment model is (threads, batching, long texts), refused at startup unless it has the seven emotions."""
    engine = Engine.load(
        settings.emotion_model or EMOTION_MODEL_NAME,
        settings=settings,
        threads=settings.inference_threads(),
        spinning=settings.ort_spinning,
        long_text=settings.long_text,
        batch_size=settings.engine_batch_size,
        token_budget=settings.max_batch_tokens,
        call_cost_tokens=DEFAULT_CALL_COST_TOKENS,
    )
    EmotionScorer(engine)  # a model without the seven emotions fails here, not on the first request
    return engine


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, emotion_engine: Engine | None = None
) -> FastAPI:
    """Build the app; the models load in the lifespan (``/readyz`` answers 503 until then).

    With ``settings.emotions`` (the default) the emotion model loads too: ``emotion_engine`` when given,
    else ``settings.emotion_model``. With emotions off no emotion model is loaded, ``emotion_engine`` or not.
    """
    settings = settings or get_settings()
    metrics = Metrics()
    state = ServerState(settings=settings, metrics=metrics, engine=engine, instance=instance_id(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state.engine is None:
            state.engine = await asyncio.to_thread(Engine.for_serving, settings)
        if settings.emotions:
            state.emotion_engine = emotion_engine or await asyncio.to_thread(load_emotion_engine, settings)
            state.emotion_scorer()  # checks the labels of a handed-in engine too
        board, slot = this_workers_board()
        state.batcher = DynamicBatcher(
            state.engine,
            max_batch_size=settings.max_batch_size,
            max_latency_ms=settings.max_latency_ms,
            max_queue_size=settings.max_queue_size,
            timeout_s=settings.request_timeout_s,
            on_batch=metrics.observe_batch,
            load_board=board,
            board_slot=slot,
        )
        await state.batcher.start()
        if state.emotion_engine is not None:
            state.emotion_batcher = DynamicBatcher(
                state.emotion_engine,
                max_batch_size=settings.max_batch_size,
                max_latency_ms=settings.max_latency_ms,
                max_queue_size=settings.max_queue_size,
                timeout_s=settings.request_timeout_s,
                on_batch=metrics.observe_batch,
                load_board=board,  # the same worker's slot: its engine calls run on the same thread
                board_slot=slot,
                inference_thread=state.batcher.inference_thread,
            )
            await state.emotion_batcher.start()
        state.cache = build_cache(settings)
        state.ready = True
        wide = state.engine.wide_backend
        log.info(
            "serving %s (version %s, %s); %s",
            state.engine.info.name,
            state.engine.info.version,
            state.engine.info.backend,
            f"a batch takes {getattr(wide, 'threads', '?')} threads while the other workers idle (board slot {slot})"
            if wide is not None
            else "one inference session",
        )
        if state.emotion_engine is not None:
            log.info("emotions from %s (version %s)", state.emotion_engine.info.name, state.emotion_engine.info.version)
        state.lifecycle = await start_lifecycle(state)
        if settings.gc_freeze:
            # Libraries, model and app live as long as the process, yet every full garbage collection
            # walked them all: 30-80 ms with the event loop stopped, every few seconds under load,
            # which showed as /livez answers of up to 90 ms in the overload test (12 ms frozen).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            # Stop taking new work, then finish what is queued: a SIGTERM drains, it does not drop.
            state.ready = False
            if state.emotion_batcher is not None:  # first: it shares the sentiment batcher's thread
                await state.emotion_batcher.stop(drain=True)
            await state.batcher.stop(drain=True)
            await stop_lifecycle(state.lifecycle)

    app = _FastAPIWithFront(
        lambda stack: PredictFastPath(
            stack,
            state=state,
            body_limit=settings.max_body_bytes,
            recycling=RecyclingPolicy(settings.keepalive_requests),
        ),
        title="moodline",
        version=__version__,
        description='Sentiment analysis API. Every error has the body `{"error": {"type", "message", "details"}}`.',
        lifespan=lifespan,
    )
    app.state.moodline = state
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(predict.router)
    app.include_router(conversations_router)
    app.include_router(feedback_router)
    mount_web(app)  # the browser page at /, outside the OpenAPI schema
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(InstanceHeader, instance=state.instance)
    app.add_middleware(ConnectionRecycling, mean_requests=settings.keepalive_requests)

    return app
